"""Peak memory (and time) of `unmask predict` on one hostile or large input each, before and after.

Run from the repository root:  python -m benchmarks.bench_predict_memory [--before REF] [--cap-gb 4]

Each input runs in its own `unmask predict` process (subprocess); its peak RSS is
that child's resource usage (os.wait4, the per-child form of getrusage(RUSAGE_CHILDREN)).
The inputs, written to a temporary folder:

* bomb_png:   a 20000x20000 PNG of zeros (388 kB on disk, 400 Mpx);
* header_png: a 388-byte PNG whose header claims 40000x40000;
* at_limit:   a noise PNG just under the default pixel limit (the largest image that is scored);
* normal:     a 1024x1024 JPEG.

With --before REF (a git ref, e.g. the commit before this change) the same inputs
also run through that commit's `unmask` package (git archive into a temporary
folder), each child under an address-space cap of --cap-gb so that the old code
cannot take the machine's memory: "over the cap" then stands for its peak.
No asserts: it prints a table.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from pathlib import Path

import cv2
import numpy as np

from unmask.learn.classifiers import from_sklearn, make_classifier
from unmask.learn.model_file import Provenance, save_model

REPO = Path(__file__).resolve().parents[1]


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def zeros_png(width: int, height: int, rows: int | None = None) -> bytes:
    """A grayscale PNG of ``width`` x ``height`` zeros; with ``rows``, IDAT holds only that many rows."""
    header = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    compressor, row = zlib.compressobj(9), b"\x00" * (width + 1)  # filter byte + pixels
    idat = b"".join(compressor.compress(row) for _ in range(height if rows is None else rows)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + header + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def write_inputs(folder: Path, at_limit_pixels: int) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    side = int(at_limit_pixels**0.5)
    inputs = {
        "bomb_png": zeros_png(20000, 20000),
        "header_png": zeros_png(40000, 40000, rows=1),
        "at_limit": cv2.imencode(".png", rng.integers(0, 256, (side, side), dtype=np.uint8))[1].tobytes(),
        "normal": cv2.imencode(".jpg", rng.integers(0, 256, (1024, 1024), dtype=np.uint8))[1].tobytes(),
    }
    paths = {}
    for name, data in inputs.items():
        paths[name] = folder / (name + (".jpg" if name == "normal" else ".png"))
        paths[name].write_bytes(data)
    return paths


def write_model(path: Path) -> Path:
    """A logistic regression on random 80-point spectra (the celeba variant): cheap to score, any image size."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 80)), np.repeat([0, 1], 20)
    estimator = make_classifier({"kind": "logreg"}, seed=0)[0].fit(X, y)
    save_model(path, from_sklearn(estimator, "celeba", Provenance.current("bench", n_train=40, seed=0)))
    return path


def package_at(ref: str, folder: Path) -> Path:
    """The ``unmask`` package of a git ref, unpacked into ``folder`` (for PYTHONPATH)."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "unmask"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def run_predict(code: Path, model: Path, image: Path, cap_bytes: int | None) -> tuple[float, float, str]:
    """(peak RSS in MB, seconds, outcome) of one `unmask predict` child on one image (os.wait4: its own rusage)."""

    def cap() -> None:
        if cap_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))

    env = dict(os.environ, PYTHONPATH=str(code), OMP_NUM_THREADS="1")  # and cwd: `-m` looks there first
    command = [sys.executable, "-m", "unmask", "predict", "--model", str(model), str(image)]
    with tempfile.TemporaryFile("w+") as stderr:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=code, preexec_fn=cap)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        message = stderr.read()
    if child.returncode == 0:
        outcome = "scored"
    else:
        outcome = (message.strip().splitlines() or ["(no message)"])[-1].replace(str(image.parent) + os.sep, "")
        if cap_bytes and ("MemoryError" in message or "alloc" in message or child.returncode < 0):
            outcome = f"over the {cap_bytes / 2**30:g} GiB cap: {outcome}"
    return usage.ru_maxrss / 1024, seconds, outcome[:110]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", help="also run this git ref's unmask package (e.g. HEAD~3)")
    parser.add_argument("--cap-gb", type=float, default=4.0, help="address-space cap per child of --before (GiB)")
    parser.add_argument("--at-limit", type=int, default=50_000_000, help="pixels of the at_limit input")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="unmask-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        inputs = write_inputs(tmp / "in", args.at_limit)
        model = write_model(tmp / "model.json")
        codes = {"after": (REPO, None)}
        if args.before:
            codes = {"before": (package_at(args.before, tmp / "before"), int(args.cap_gb * 2**30)), **codes}
        print("peak RSS (MB) and wall time of one `unmask predict` process per input")
        for name, image in inputs.items():
            for label, (code, cap_bytes) in codes.items():
                peak, seconds, outcome = run_predict(code, model, image, cap_bytes)
                print(f"{name:>10} {label:>6}: {peak:7,.0f} MB {seconds:6.1f} s  {outcome}", flush=True)


if __name__ == "__main__":
    main()
