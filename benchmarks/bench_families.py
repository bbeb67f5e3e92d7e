"""Per-image cost of each feature family against the paper's gray feature, on one core.

Run from the repository root:  python -m benchmarks.bench_families [--size 1024] [--file photo.jpg]

A natural photo (``--file``, else matplotlib's grace_hopper.jpg cropped square
and resized) is encoded in memory as JPEG q75 4:2:0, as most of today's data
comes. Each line is the median over interleaved repeats of the time from the
JPEG's bytes to the vectors, as a shard computes them (the checked decode of
``unmask.data.images`` included):

* gray:   decode_gray + spectrum.features(gray, "faces_hq"), the paper's feature;
* a family alone: the decode it needs (gray, or gray and colour) + its vector;
* all:    one decode (gray and colour) + every registered family at once, the
          work they share done once; and the comparison's default set with its
          band controls (faces_hq, ycbcr_radial, angular, residual, decay, each
          also on [0, 0.25) and [0.25, 1]), and that set without residual.

The ratio column is the time over the gray feature's. No asserts: it prints a table.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # single core, set before numpy loads its BLAS

import argparse  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from unmask.data.harmonise import reencode  # noqa: E402
from unmask.data.images import decode_colour, decode_gray  # noqa: E402
from unmask.features import families, spectrum  # noqa: E402

COMPARED = ["faces_hq", "ycbcr_radial", "angular", "residual", "decay"]


def photo(size: int, path: str | None) -> bytes:
    """A natural photo of ``size`` x ``size`` pixels as JPEG q75 4:2:0 bytes."""
    if path is None:
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
            path = handle.name
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    side = min(image.shape[:2])
    image = cv2.resize(image[:side, :side], (size, size), interpolation=cv2.INTER_AREA)
    return reencode(image, 75)


def median_ms(jobs: dict[str, callable], repeats: int) -> dict[str, float]:
    """Median milliseconds per call of each job, the jobs interleaved so that load hits them alike."""
    times = {name: [] for name in jobs}
    for job in jobs.values():
        job()  # warm up: plans, ring geometry, imports
    for _ in range(repeats):
        for name, job in jobs.items():
            started = time.perf_counter()
            job()
            times[name].append(time.perf_counter() - started)
    return {name: 1e3 * float(np.median(values)) for name, values in times.items()}


def family_job(data: bytes, specs: list[families.Spec]):
    colour = families.needs_colour(specs)

    def run():
        if colour:
            gray, bgr = decode_colour(data)
        else:
            gray, bgr = decode_gray(data), None
        families.compute(families.Decoded(gray, bgr), specs)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="image side in pixels")
    parser.add_argument("--file", help="a photo to use instead of grace_hopper.jpg")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls per job")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    data = photo(args.size, args.file)
    jobs = {"gray (decode + faces_hq)": lambda: spectrum.features(decode_gray(data), "faces_hq")}
    for name in families.FAMILIES:
        jobs[name] = family_job(data, [families.Spec(name)])
    every = [families.Spec(name) for name in families.FAMILIES]
    jobs["all families together"] = family_job(data, every)
    compared = families.band_controls([families.Spec(name) for name in COMPARED], 0.25)
    jobs["comparison set + band controls"] = family_job(data, compared)
    jobs["the same without residual"] = family_job(data, [spec for spec in compared if spec.family != "residual"])
    jobs["decode gray"] = lambda: decode_gray(data)
    jobs["decode gray + colour"] = lambda: decode_colour(data)
    with threadpool_limits(1):
        times = median_ms(jobs, args.repeats)
    gray = times["gray (decode + faces_hq)"]
    print(f"{args.size} px JPEG q75 4:2:0, median of {args.repeats} interleaved calls, one core")
    print(f"{'job':<34} {'ms':>8} {'x gray':>8}")
    for name, ms in times.items():
        print(f"{name:<34} {ms:8.2f} {ms / gray:8.2f}")


if __name__ == "__main__":
    main()
