"""Manifest reuse: a rebuild over N unchanged files, a touch, a rewrite, and a no-op ``snakemake -n``.

Run from the repository root:

    python -m benchmarks.bench_manifest                 # 2 sources x 20,000 small PNGs
    python -m benchmarks.bench_manifest --per-source 2000 --no-workflow

It makes ``2 x --per-source`` distinct 32x32 PNGs in a temporary folder, then prints:

1. the manifest built cold (no cache: every file hashed and probed) with one
   thread (as before the cache) and with the thread pool, then rebuilt from
   the cache with nothing changed, after a ``touch`` of one file, and after
   new bytes in one file;
2. the planning cost of one local source per DAG build: today's content
   fingerprint (listing + stat + cache) beside the old listing of paths,
   sizes and modification times;
3. unless ``--no-workflow``: the real workflow up to ``rejects.csv`` and
   ``format_audit.csv`` (manifest, features, audit), then a no-op
   ``snakemake -n``, and one after a ``touch`` (which plans nothing).

No asserts: it prints the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

from unmask.data.file_facts import FactsCache
from unmask.data.images import list_images
from unmask.data.manifest import build_manifest, listing_fingerprint

REPO = Path(__file__).resolve().parents[1]
SOURCES = {"cams": "real", "gan": "fake"}


def make_images(root: Path, per_source: int) -> dict[str, dict]:
    """Distinct small PNGs, ``per_source`` in each source folder (1,000 per sub-folder)."""
    rng = np.random.default_rng(0)
    sources = {}
    for name, label in SOURCES.items():
        for index in range(per_source):
            folder = root / name / f"{index // 1000:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            image = rng.integers(0, 256, (32, 32), dtype=np.uint8)
            cv2.imwrite(str(folder / f"{index:06d}.png"), image)
        sources[name] = {"label": label, "path": str(root / name), "method": "local"}
    return sources


def show(what: str, wall: float, cpu: float) -> None:
    print(f"  {what:<58} {wall:7.2f} s wall {cpu:7.2f} s CPU", flush=True)


def timed(what: str, function, *args, **kwargs):
    """Run ``function``, printing its wall time and the CPU time of this process (all threads)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    show(what, time.perf_counter() - start, time.process_time() - cpu)
    return result


def build(sources: dict, cache_path: Path | None, workers: int):
    cache = FactsCache(cache_path, workers=workers)
    manifest, rejects = build_manifest(sources, seed=0, cache=cache)
    cache.save()
    return manifest, rejects


def stat_listing(source: dict) -> str:
    """The fingerprint the workflow used before: listed paths, sizes and modification times (a touch changes it)."""
    digest = hashlib.sha256()
    paths = list_images(source["path"])
    for path in paths:
        stat = path.stat()
        digest.update(f"{path}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return f"{len(paths)} images, sha256 {digest.hexdigest()}"


def fingerprint(source: dict, cache_path: Path) -> str:
    """What the workflow computes per local source and DAG build (after a build: every hash cached)."""
    return listing_fingerprint("cams", source, 0, FactsCache(cache_path))


def manifest_section(root: Path, sources: dict, total: int, workers: int) -> None:
    print(f"\n1. manifest of {total:,} files")
    cache = root / "cache.parquet"
    timed("before: cold build, 1 thread, no cache", build, sources, None, 1)
    timed(f"cold build, {workers} threads, writing the cache", build, sources, cache, workers)
    timed("after: rebuild, nothing changed", build, sources, cache, workers)
    first = next((root / "cams" / "000").iterdir())
    first.touch()
    timed("after: rebuild after a touch of one file", build, sources, cache, workers)
    first.write_bytes(cv2.imencode(".png", np.zeros((32, 32), np.uint8))[1].tobytes())
    timed("after: rebuild after new bytes in one file", build, sources, cache, workers)

    print(f"\n2. planning: fingerprint of one local source ({total // len(SOURCES):,} files), per DAG build")
    timed("before: paths, sizes and mtimes", stat_listing, sources["cams"])
    timed("after: names and contents (listing, stat, reading the cache)", fingerprint, sources["cams"], cache)


def snakemake(what: str, workdir: Path, config: Path, *extra: str) -> None:
    """Run Snakemake on the benchmark's targets; print its wall time and its CPU time (user + system)."""
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--cores", "2"]
    command += ["results/bench/rejects.csv", "results/bench/format_audit.csv", *extra, "--configfile", str(config)]
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(command, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"snakemake failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    show(what, time.perf_counter() - start, cpu)
    if "-n" in extra and "Nothing to be done" not in result.stdout + result.stderr:
        print("  (the dry run plans jobs: not a no-op)")


def workflow_section(root: Path, sources: dict, total: int) -> None:
    print(f"\n3. workflow over {total:,} files (manifest, features, rejects, audit)")
    dataset = {"sizes": [20], "repeats": 1, "shards": 2, "sources": sources}
    config = root / "bench.yaml"
    config.write_text(yaml.safe_dump({"default_datasets": ["bench"], "datasets": {"bench": dataset}}))
    workdir = root / "run"
    workdir.mkdir()
    snakemake("first run", workdir, config)
    snakemake("no-op snakemake -n", workdir, config, "-n")
    next((root / "gan" / "000").iterdir()).touch()
    snakemake("snakemake -n after a touch of one file (hashes it)", workdir, config, "-n")
    snakemake("no-op snakemake -n again", workdir, config, "-n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-source", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--no-workflow", action="store_true", help="skip the Snakemake runs")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="unmask-bench-manifest-") as tmp:
        root = Path(tmp)
        sources = timed(f"making {2 * args.per_source:,} PNGs", make_images, root, args.per_source)
        manifest_section(root, sources, 2 * args.per_source, args.workers)
        if not args.no_workflow:
            workflow_section(root, sources, 2 * args.per_source)


if __name__ == "__main__":
    main()
