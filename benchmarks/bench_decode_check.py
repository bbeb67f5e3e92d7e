"""Per-image cost of the decoder-judged integrity check, and the features' speed-up over the seed code with it.

Run from the repository root:  python -m benchmarks.bench_decode_check [--before REF] [--sizes 1024]

In bench_features' style (same photo, JPEG quality 90 and PNG, one core, interleaved
repeats), per image, the fastest of the repeats (steadier than the median on a loaded
machine):

* cv2:     cv2.imdecode(..., IMREAD_GRAYSCALE) alone (what the features use);
* before:  unmask.data.images.decode_gray of git ref REF (the byte heuristic + cv2), with --before;
* after:   unmask.data.images.decode_gray now (header + pixel limit + libjpeg / PNG CRC check + cv2);
* unmask, original: the faces_hq features of the decoded image, as in bench_features;

then the speed-up (decode + original) / (decode + unmask) with each decode, the
figure that must stay >= 10x at 1024 px. No asserts: it prints a table.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # single core, set before numpy loads its BLAS

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from benchmarks import original  # noqa: E402
from benchmarks.bench_features import photo  # noqa: E402
from benchmarks.bench_predict_memory import package_at  # noqa: E402
from unmask.data import images  # noqa: E402
from unmask.features import fourier, spectrum  # noqa: E402


def images_module_at(ref: str, folder: Path):
    """``unmask/data/images.py`` of a git ref, loaded beside the current package (it imports only unmask.io)."""
    path = package_at(ref, folder) / "unmask" / "data" / "images.py"
    spec = importlib.util.spec_from_file_location("images_before", path)
    module = sys.modules["images_before"] = importlib.util.module_from_spec(spec)  # dataclasses look it up
    spec.loader.exec_module(module)
    return module


def fastest_times(candidates: dict, budget: float) -> dict[str, float]:
    """Fastest seconds per call over rounds that visit the candidates in turn (the first round warms up)."""
    times: dict[str, list[float]] = {name: [] for name in candidates}
    deadline = time.perf_counter() + budget
    while time.perf_counter() < deadline or len(times["after"]) < 5:
        for name, call in candidates.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: min(values[1:]) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="git ref whose decode_gray is the 'before' column")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024])
    parser.add_argument("--budget", type=float, default=8.0, help="seconds of timing per row")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    fourier.PLAN_AFTER_PIXELS = 0  # the steady state of a shard of one shape, as in bench_features
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(limits=1):
        before = images_module_at(args.before, Path(tmp)) if args.before else None
        print(f"fastest ms per image, one core; load average {os.getloadavg()[0]:.1f}")
        print(
            f"{'image':>10} {'cv2':>7} {'before':>7} {'after':>7} {'unmask':>7} {'original':>9}"
            f" {'speed-up w/ before':>19} {'w/ after':>9}"
        )
        for size in args.sizes:
            color = cv2.cvtColor(photo(size), cv2.COLOR_GRAY2BGR)
            for kind, params in ((".jpg", [cv2.IMWRITE_JPEG_QUALITY, 90]), (".png", [])):
                data = cv2.imencode(kind, color, params)[1].tobytes()
                gray = images.decode_gray(data)
                candidates = {
                    "cv2": lambda: cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE),
                    "after": lambda: images.decode_gray(data),
                    "unmask": lambda: spectrum.features(gray, "faces_hq"),
                    "original": lambda: original.features(gray, "faces_hq"),
                }
                if before:
                    candidates["before"] = lambda: before.decode_gray(data)
                ms = {name: 1e3 * t for name, t in fastest_times(candidates, args.budget).items()}
                old = ms.get("before", ms["cv2"])
                ratio = {
                    name: (d + ms["original"]) / (d + ms["unmask"])
                    for name, d in (("before", old), ("after", ms["after"]))
                }
                shown_before = f"{ms['before']:7.2f}" if before else f"{'-':>7}"
                print(
                    f"{size:>5} {kind[1:]:>4} {ms['cv2']:7.2f} {shown_before} {ms['after']:7.2f} {ms['unmask']:7.2f}"
                    f" {ms['original']:9.1f} {ratio['before']:18.1f}x {ratio['after']:8.1f}x",
                    flush=True,
                )


if __name__ == "__main__":
    main()
