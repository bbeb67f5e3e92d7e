"""Per-image feature time: unmask.features.spectrum vs the seed paper's original algorithm, and the floor.

Run from the repository root:  python -m benchmarks.bench_features [--sizes 256 1024 2048]
                               python -m benchmarks.bench_features --files DIR/*.jpg DIR/*.png

For each size, a natural photo (matplotlib's grace_hopper.jpg, cropped square
and resized; 1/f noise if it is missing) is JPEG-encoded in memory (or, with
--files, the given files are read into memory and grouped by shape and format,
each call taking the next file of its group), then the median over interleaved
repeats is printed for:

* decode:   cv2.imdecode(..., IMREAD_GRAYSCALE) of the in-memory JPEG;
* unmask:   unmask.features.spectrum.features(gray, "faces_hq") (the full-image profile;
            the other variants add a tiny resampling, dfd works on 1/9 of the
            pixels), as a shard runs it (the shapes of unmask.features.fourier.WISDOM_SHAPES
            get an FFTW plan from the shipped wisdom when pyfftw is installed);
* original: benchmarks/original.py (fft2 -> fftshift -> argsort/cumsum ring average);
* pocketfft, unmask FFT: one real FFT of the image, scipy.fft.rfft2 and unmask.features.fourier.rfft2
            (for those shapes FFTW from the wisdom): the floor any exact method pays;

with the speed-ups original/unmask, without and with the decode, and
(decode + unmask) / (decode + the faster real FFT).
Everything runs on one core. No asserts: it prints a table.

    python -m benchmarks.bench_features --processes 5 [--images 100 --size 1024]

checks reproducibility instead: for each FFT engine (unmask's as shipped,
FFTW_MEASURE plans made in the process as before, pocketfft alone) it runs
that many fresh processes, each with its heap shifted by a random amount,
decoding the same ``--images`` distinct JPEGs and digesting all their
features; it prints how many different digests came out.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # single core, set before numpy loads its BLAS

import argparse  # noqa: E402
import hashlib  # noqa: E402
import itertools  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.fft  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from unmask.features import fourier, spectrum  # noqa: E402

try:
    from benchmarks import original
except ImportError:  # run as a script: python benchmarks/bench_features.py
    import original  # type: ignore[no-redef]


def photo(size: int) -> np.ndarray:
    """A natural grayscale photo of ``size`` x ``size`` pixels (1/f noise if matplotlib's sample is missing)."""
    try:
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
            source = cv2.imdecode(np.frombuffer(handle.read(), np.uint8), cv2.IMREAD_GRAYSCALE)
    except (ImportError, OSError, ValueError):
        return pink_noise(size)
    side = min(source.shape)
    top, left = (source.shape[0] - side) // 2, (source.shape[1] - side) // 2
    square = source[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if size < side else cv2.INTER_LANCZOS4
    return cv2.resize(square, (size, size), interpolation=interpolation)


def pink_noise(size: int, seed: int = 0) -> np.ndarray:
    """Gray noise with a 1/f amplitude spectrum, like natural images."""
    rng = np.random.default_rng(seed)
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.rfftfreq(size), indexing="ij"))
    f[0, 0] = 1.0
    noise = np.fft.irfft2(np.fft.rfft2(rng.normal(size=(size, size))) / f, s=(size, size))
    noise = (noise - noise.mean()) / noise.std()
    return np.clip(128 + 40 * noise, 0, 255).astype(np.uint8)


def median_times(candidates: dict, budget: float, block: int = 3, max_rounds: int = 30) -> dict[str, float]:
    """Median CPU seconds per call (the process's, all its threads: per core, and steadier than wall time
    on a shared machine).

    Rounds visit the candidates in turn so machine load hits all alike; within a
    round each candidate runs ``block`` + 1 times in a row and the first call is
    dropped, as in a pipeline that extracts image after image (the original's
    large temporaries would otherwise evict the others' working set).
    """
    start = time.perf_counter()
    for call in candidates.values():
        call()  # warm caches (ring geometry, FFT plans) and size the rounds
    rounds = int(max(3, min(max_rounds, budget / max(time.perf_counter() - start, 1e-9) / (block + 1))))
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, call in candidates.items():
            call()
            for _ in range(block):
                start = time.process_time()
                call()
                times[name].append(time.process_time() - start)
    return {name: float(np.median(values)) for name, values in times.items()}


def encoded_inputs(args) -> list[tuple[str, list[np.ndarray]]]:
    """(row label, encoded images of one shape): the photo at each size, or the given files by shape and format."""
    if not args.files:
        inputs = []
        for size in args.sizes:
            ok, jpeg = cv2.imencode(".jpg", photo(size), [cv2.IMWRITE_JPEG_QUALITY, args.quality])
            assert ok
            inputs.append((f"{size}", [jpeg]))
        return inputs
    groups: dict[tuple, list[np.ndarray]] = {}
    for path in args.files:
        encoded = np.fromfile(path, np.uint8)
        gray = cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise SystemExit(f"{path}: OpenCV cannot decode it")
        groups.setdefault((path.suffix.lower().lstrip("."), gray.shape), []).append(encoded)
    return [
        (f"{len(group)} {kind} {shape[1]}x{shape[0]}, {np.mean([e.size for e in group]) / 1e3:.0f} kB", group)
        for (kind, shape), group in sorted(groups.items())
    ]


ENGINES = {
    "unmask": "as shipped (FFTW from wisdom for its shapes, else pocketfft)",
    "measured": "FFTW_MEASURE plans made in the process (unmask before 2026-11-30)",
    "pocketfft": "scipy's pocketfft for every shape",
}


def digest(engine: str, images: int, size: int) -> str:
    """sha256 of the faces_hq features of ``images`` distinct JPEGs of ``size`` px (a photo with noise)
    through ``engine``."""
    junk = np.empty(int.from_bytes(os.urandom(2), "little") * 16 + 8, np.uint8)  # shift later heap addresses
    if engine == "measured":
        fourier._fftw().forget_wisdom()  # time the candidates afresh, for every shape, as before
        fourier.FFTW_FLAGS = ("FFTW_MEASURE", "FFTW_DESTROY_INPUT")
        fourier._uses_fftw = lambda shape: True
    elif engine == "pocketfft":
        fourier._uses_fftw = lambda shape: False
    rng, base, sha = np.random.default_rng(0), photo(size).astype(np.int16), hashlib.sha256()
    for _ in range(images):
        noisy = np.clip(base + rng.integers(-8, 9, base.shape), 0, 255).astype(np.uint8)
        encoded = cv2.imencode(".jpg", noisy, [cv2.IMWRITE_JPEG_QUALITY, 90])[1]
        sha.update(spectrum.features(cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE), "faces_hq").tobytes())
    del junk
    return sha.hexdigest()


def reproducibility(args) -> None:
    """Distinct feature digests over ``args.processes`` fresh processes, per engine."""
    print(f"{args.images} JPEGs of {args.size} px, faces_hq features, {args.processes} fresh processes per engine\n")
    for engine, what in ENGINES.items():
        if engine == "measured" and fourier._fftw() is None:
            print(f"{engine:>9}: skipped, pyfftw (the 'fftw' extra) is not installed")
            continue
        command = [
            sys.executable,
            "-m",
            "benchmarks.bench_features",
            "--digest",
            engine,
            "--images",
            str(args.images),
            "--size",
            str(args.size),
        ]
        digests = [
            subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()
            for _ in range(args.processes)
        ]
        print(f"{engine:>9}: {len(set(digests))} distinct digest(s) {sorted({d[:12] for d in digests})}  ({what})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 2048])
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality of the test images")
    parser.add_argument(
        "--files", type=Path, nargs="+", help="time these image files instead (grouped by shape and format)"
    )
    parser.add_argument("--budget", type=float, default=10.0, help="seconds of timing per row")
    parser.add_argument("--processes", type=int, help="check reproducibility over this many fresh processes instead")
    parser.add_argument("--images", type=int, default=100, help="images per process (with --processes)")
    parser.add_argument("--size", type=int, default=1024, help="their side in px (with --processes)")
    parser.add_argument("--digest", choices=ENGINES, help=argparse.SUPPRESS)  # one process of --processes
    args = parser.parse_args()
    cv2.setNumThreads(1)
    if args.digest:
        print(digest(args.digest, args.images, args.size))
        return
    if args.processes:
        reproducibility(args)
        return

    print(
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"OpenCV {cv2.__version__}; {platform.machine()}, {os.cpu_count()} CPUs, 1 thread; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "median CPU ms per image (grayscale, one core); speed-ups = original / unmask, without and with the "
        "decode; floor ratio = (decode + unmask) / (decode + the faster real FFT)\n"
    )
    inputs = encoded_inputs(args)
    width = max(6, *(len(label) for label, _ in inputs))
    header = (
        f"{'images':>{width}} {'decode':>8} {'unmask':>8} {'original':>9} {'speed-up':>9} {'w/ decode':>10} "
        f"{'pocketfft':>10} {'unmask fft':>10} {'floor ratio':>12}"
    )
    print(header)
    print("-" * len(header))
    with threadpool_limits(limits=1):
        for label, encoded in inputs:
            grays = [cv2.imdecode(e, cv2.IMREAD_GRAYSCALE) for e in encoded]
            turns = {
                name: itertools.cycle(range(len(encoded)))
                for name in ("decode", "unmask", "original", "pocketfft", "fftw")
            }
            t = median_times(
                {
                    "decode": lambda: cv2.imdecode(encoded[next(turns["decode"])], cv2.IMREAD_GRAYSCALE),
                    "unmask": lambda: spectrum.features(grays[next(turns["unmask"])], "faces_hq"),
                    "original": lambda: original.features(grays[next(turns["original"])], "faces_hq"),
                    "pocketfft": lambda: scipy.fft.rfft2(grays[next(turns["pocketfft"])], workers=1),
                    "fftw": lambda: fourier.rfft2(grays[next(turns["fftw"])]),
                },
                args.budget,
            )
            ms = {name: 1e3 * seconds for name, seconds in t.items()}
            floor = t["decode"] + min(t["pocketfft"], t["fftw"])
            print(
                f"{label:>{width}} {ms['decode']:8.2f} {ms['unmask']:8.2f} {ms['original']:9.2f} "
                f"{t['original'] / t['unmask']:8.1f}x {(t['decode'] + t['original']) / (t['decode'] + t['unmask']):9.1f}x "
                f"{ms['pocketfft']:10.2f} {ms['fftw']:10.2f} {(t['decode'] + t['unmask']) / floor:12.2f}"
            )


if __name__ == "__main__":
    main()
