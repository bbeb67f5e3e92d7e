"""Downloader throughput against the local test server (tests/acquire_server.py).

Run from the repository root:  python -m benchmarks.bench_download [--files 400] [--big-mib 128] [--baseline DIR]

Prints wall time and rate for: many small files (FFHQ-like count, 256 KiB
each) with 1 and 4 workers; one large file (md5 verified); a rerun that only
verifies what is there; a large file resumed after a truncation at half; and an endless
chunked body (a hostile server) stopped at a declared size and at the size limit (``--limit-mib``):
time, bytes on disk afterwards and peak Python memory (tracemalloc).
The server runs in the same process, so the numbers bound the downloader's
own overhead (per-request cost, hashing, disk), not a real network.
``--baseline DIR`` first runs the same measurements with the code of another
checkout (e.g. ``git worktree add /tmp/before <commit>``): before and after in one run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from acquire_server import LocalServer  # noqa: E402

from unmask.data.acquire.download import Downloader, DownloadError, Item, Options  # noqa: E402


def timed(label: str, nbytes: int, func) -> None:
    start = time.perf_counter()
    func()
    seconds = time.perf_counter() - start
    print(f"{label:<40} {seconds:7.2f} s  {nbytes / seconds / 2**20:8.1f} MiB/s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--big-mib", type=int, default=128)
    parser.add_argument("--limit-mib", type=int, default=256, help="declared size and size limit of the endless body")
    parser.add_argument("--baseline", type=Path, help="another checkout to measure first, for comparison")
    args = parser.parse_args()
    if args.baseline:
        print(f"== baseline: {args.baseline}", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.bench_download",
                "--files",
                str(args.files),
                "--big-mib",
                str(args.big_mib),
                "--limit-mib",
                str(args.limit_mib),
            ],
            cwd=args.baseline,
            check=True,
            env={**os.environ, "PYTHONPATH": str(args.baseline)},
            stderr=subprocess.DEVNULL,
        )
        print(f"== this checkout: {Path(__file__).resolve().parents[1]}", flush=True)
    quiet = Options(progress_interval=3600, backoff=0)
    small = os.urandom(256 << 10)
    big = os.urandom(args.big_mib << 20)
    with LocalServer() as server, tempfile.TemporaryDirectory() as tmp:
        for i in range(args.files):
            server.add(f"/s{i}", small)
        server.add("/big", big)
        md5 = hashlib.md5(big).hexdigest()
        for workers in (1, 4):
            folder = Path(tmp, f"w{workers}")
            items = [Item(server.url(f"/s{i}"), folder / f"s{i}", len(small)) for i in range(args.files)]
            timed(
                f"{args.files} x 256 KiB, {workers} worker(s)",
                len(small) * args.files,
                lambda: Downloader(Options(workers=workers, progress_interval=3600)).fetch_all(items, folder).check(),
            )
        timed(
            f"rerun: verify {args.files} present (sizes)",
            len(small) * args.files,
            lambda: Downloader(quiet).fetch_all(items, folder).check(),
        )
        item = Item(server.url("/big"), Path(tmp, "big"), len(big), md5)
        timed(f"1 x {args.big_mib} MiB, md5 verified", len(big), lambda: Downloader(quiet).fetch(item))
        timed(f"rerun: verify 1 x {args.big_mib} MiB (md5)", len(big), lambda: Downloader(quiet).fetch(item))
        item.dest.unlink()
        server.routes["/big"].failures.append(("truncate", len(big) // 2))
        timed(f"1 x {args.big_mib} MiB, truncated at half, resumed", len(big), lambda: Downloader(quiet).fetch(item))
        ranges = [h.headers.get("Range") for h in server.hits("/big")][-2:]
        print(f"resume requests: {ranges}")
        server.add("/endless", os.urandom(1 << 16), endless=True)
        limit = args.limit_mib << 20
        for label, item in [
            ("declared size", Item(server.url("/endless"), Path(tmp, "a.7z"), size=limit)),
            ("size limit", Item(server.url("/endless"), Path(tmp, "b.7z"), max_bytes=limit)),
        ]:
            endless(f"endless body, stopped at its {label} ({args.limit_mib} MiB)", item, quiet)


def endless(label: str, item: Item, options: Options) -> None:
    """Fetch an endless body; print the time, what is left on disk and the peak of Python's allocations."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        Downloader(options).fetch(item)
        outcome = "fetched (the limit did not hold)"
    except DownloadError as error:
        outcome = str(error).split(": ", 1)[1]
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    left = sum(path.stat().st_size for path in item.dest.parent.glob(item.dest.name + "*"))
    print(f"{label:<52} {seconds:7.2f} s  peak {peak / 2**20:.1f} MiB, {left} bytes left on disk: {outcome}")


if __name__ == "__main__":
    main()
