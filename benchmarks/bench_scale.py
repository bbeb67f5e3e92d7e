"""Cluster and scale: the real workflow on a Faces-HQ-shaped dataset (4 sources x N JPEGs), timed and sized.

Run from the repository root:

    python -m benchmarks.bench_scale --quick          # 4 x 500 images, ~2 minutes
    python -m benchmarks.bench_scale                  # 4 x 10,000 images at 128 px + 4,000 at 1024 px, ~8 minutes on 2 cores

What it does, in a work folder (``--workdir``, default /tmp/unmask-bench-scale):

1. generates 4 sources (2 real, 2 fake) of N distinct JPEGs each at ``--side`` px:
   random crops of the demo photos (``unmask.data.acquire.demo.photos()``) with a little
   noise; fakes go through ``unmask.data.acquire.demo.upsample_transposed``;
2. writes a config YAML for a local dataset over those folders and runs the real
   workflow (``python -m snakemake -s <repo>/Snakefile -d <workdir> --cores C
   --configfile ...``), polling the process tree (psutil) for the per-stage wall
   time and the peak memory of every job; then times a no-op ``snakemake -n``;
3. runs one feature shard job (``python -m unmask features --shard 0 --shards K``)
   for K giving ~1k, ~5k and ~20k images per shard and prints its max RSS;
4. times ``python -m unmask train`` (1 repeat) per classifier and size;
5. splits the manifest stage's per-file cost (listing, header probe, sha256) and
   times Parquet writes/reads of Faces-HQ-sized feature shards (722 values);
6. at 1024 x 1024 px (``--hq-count`` images, 4,000 by default): read + decode +
   features per image with unmask and with the seed paper's algorithm
   (``benchmarks/original.py``), side by side on one core (``--hq-timed`` of them);
   the real manifest and feature jobs over all of them; and training times on
   their 722 features (the real Faces-HQ feature length).

Memory: ``max RSS`` is the kernel's ru_maxrss as ``/usr/bin/time`` reports it
(the largest single process of the command's tree; a polled peak if
/usr/bin/time is missing: ``apt-get install time``); ``tree sum`` is the
largest sum of RSS over the process tree seen by polling every 0.1 s.
No asserts: it prints tables, and the figures as JSON (``--json``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
DATASET = "scale"
# name: (label, fake?, JPEG quality, photo offset): two real and two fake sources, like Faces-HQ.
SOURCES = {
    "real_a": ("real", False, 95, 0),
    "real_b": ("real", False, 90, 1),
    "fake_a": ("fake", True, 95, 2),
    "fake_b": ("fake", True, 90, 0),
}
CLASSIFIERS = {
    "svm": {"kind": "svm", "kernel": "linear", "C": 1.0},
    "logreg": {"kind": "logreg", "C": 1.0},
    "kmeans": {"kind": "kmeans"},
}
FIGURES: list[tuple[str, str, str]] = []  # (section, figure, value) for the final table
RESULTS: dict = {}


def record(section: str, name: str, value: str, key: str | None = None, raw=None) -> None:
    FIGURES.append((section, name, value))
    if key is not None:
        RESULTS[key] = raw


def mb(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.0f} MB"


# ----------------------------------------------------------------------------- dataset


_PHOTOS: list[np.ndarray] = []


def _photos(side: int) -> list[np.ndarray]:
    """The demo photos, enlarged where they are smaller than the crop side."""
    if not _PHOTOS:
        from unmask.data.acquire.demo import photos

        _PHOTOS.extend(photos())
    out = []
    for photo in _PHOTOS:
        scale = (side + 32) / min(photo.shape[:2])
        out.append(cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC) if scale > 1 else photo)
    return out


def make_image(photo: np.ndarray, fake: bool, side: int, rng: np.random.Generator) -> np.ndarray:
    """A random crop with noise (so every file differs); a fake is down-sampled, then up-sampled by a transposed conv."""
    from unmask.data.acquire.demo import upsample_transposed

    y = rng.integers(0, photo.shape[0] - side + 1)
    x = rng.integers(0, photo.shape[1] - side + 1)
    crop = photo[y : y + side, x : x + side].astype(np.float32)
    crop += 3.0 * rng.standard_normal(crop.shape, dtype=np.float32)
    if fake:
        crop = upsample_transposed(cv2.resize(crop, (side // 2, side // 2), interpolation=cv2.INTER_AREA))
    return np.clip(crop, 0, 255).round().astype(np.uint8)


def _generate_chunk(task: tuple) -> int:
    cv2.setNumThreads(1)
    folder, name, side, start, stop = task
    _, fake, quality, offset = SOURCES[name]
    photos = _photos(side)
    rng = np.random.default_rng([sorted(SOURCES).index(name), side, start])
    for index in range(start, stop):
        image = make_image(photos[(index + offset) % len(photos)], fake, side, rng)
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        (Path(folder) / f"{name}_{index:06d}.jpg").write_bytes(data.tobytes())
    return stop - start


def generate(root: Path, per_source: int, side: int, workers: int, sources=SOURCES) -> tuple[float, int, bool]:
    """Write the sources under ``root`` (reused when a previous run left the same set); return (seconds, bytes, reused)."""
    marker = root / "complete.json"
    wanted = {"per_source": per_source, "side": side, "sources": sorted(sources), "version": 1}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return 0.0, sum(p.stat().st_size for p in root.rglob("*.jpg")), True
    shutil.rmtree(root, ignore_errors=True)
    tasks = []
    for name in sources:
        (root / name).mkdir(parents=True)
        for start in range(0, per_source, 500):
            tasks.append((str(root / name), name, side, start, min(start + 500, per_source)))
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        sum(pool.imap_unordered(_generate_chunk, tasks))
    seconds = time.perf_counter() - started
    marker.write_text(json.dumps(wanted))
    return seconds, sum(p.stat().st_size for p in root.rglob("*.jpg")), False


# ----------------------------------------------------------------------------- measuring processes


@dataclass
class Job:
    stage: str
    start: float
    last: float
    peak_rss: int = 0


@dataclass
class Measured:
    wall: float
    returncode: int
    max_rss: int  # bytes: ru_maxrss of the tree (largest single process)
    tree_peak: int  # bytes: largest polled sum over the tree
    root_peak: int  # bytes: polled peak of the root process itself
    started: float  # time.time() at launch
    timed_out: bool = False
    jobs: dict[int, Job] = field(default_factory=dict)


def _unmask_stage(cmdline: list[str]) -> str | None:
    """'features' for `python -m unmask features ...`, else None (shell wrappers are skipped)."""
    if len(cmdline) > 3 and cmdline[1:3] == ["-m", "unmask"]:
        return cmdline[3]
    return None


TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def measure(
    cmd: list[str],
    cwd: Path | None = None,
    log: Path | None = None,
    timeout: float | None = None,
    interval: float = 0.1,
) -> Measured:
    """Run ``cmd``; poll its process tree for RSS and for the `unmask` jobs it starts.

    The command runs under ``/usr/bin/time`` where it exists: the kernel's
    ru_maxrss of a process that this (large) Python process forks would
    include this process's own high-water mark, recorded at exec.
    """
    out = open(log, "wb") if log else subprocess.DEVNULL
    rss_file = None
    if TIME:
        fd, rss_file = tempfile.mkstemp(prefix="bench-scale-rss.")
        os.close(fd)
        cmd = [TIME, "-f", "%M", "-o", rss_file, *cmd]
    started, t0 = time.time(), time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    root = psutil.Process(proc.pid)
    target = None if TIME else proc.pid  # the command itself (under /usr/bin/time: its child)
    jobs: dict[int, Job] = {}
    tree_peak = root_peak = 0
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            procs = [root]
        total, now = 0, time.time()
        if target is None and len(procs) > 1:
            target = procs[1].pid
        for p in procs:
            try:
                rss = p.memory_info().rss
                if p.pid == target:
                    root_peak = max(root_peak, rss)
                elif p.pid not in jobs:
                    stage = _unmask_stage(p.cmdline())
                    if stage:
                        jobs[p.pid] = Job(stage, p.create_time(), now)
                if p.pid in jobs:
                    jobs[p.pid].last, jobs[p.pid].peak_rss = now, max(jobs[p.pid].peak_rss, rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            total += rss
        tree_peak = max(tree_peak, total)
        if timeout and time.perf_counter() - t0 > timeout:
            os.killpg(proc.pid, signal.SIGKILL)  # the session this call started
            timed_out = True
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(interval)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if log:
        out.close()
    max_rss = root_peak  # polled: misses short peaks
    if rss_file:
        text = Path(rss_file).read_text().split()
        Path(rss_file).unlink()
        if text and text[-1].isdigit():
            max_rss = int(text[-1]) * 1024
    return Measured(wall, proc.returncode, max_rss, tree_peak, root_peak, started, timed_out, jobs)


def stage_spans(m: Measured) -> dict[str, tuple[float, float, int, int]]:
    """Per stage: (first start, last seen, number of jobs, peak RSS of one job), times relative to launch."""
    spans: dict[str, list] = {}
    for job in m.jobs.values():
        s = spans.setdefault(job.stage, [float("inf"), 0.0, 0, 0])
        s[0], s[1] = min(s[0], job.start - m.started), max(s[1], job.last - m.started)
        s[2], s[3] = s[2] + 1, max(s[3], job.peak_rss)
    return {k: tuple(v) for k, v in spans.items()}


# ----------------------------------------------------------------------------- the workflow


def write_config(workdir: Path, data: Path, side: int, sizes: list[int], repeats: int, shards: int) -> Path:
    config = {
        "default_datasets": [DATASET],
        "datasets": {
            DATASET: {
                "variant": "faces_hq",
                "image_size": side,
                "sizes": sizes,
                "repeats": repeats,
                "shards": shards,
                "classifiers": CLASSIFIERS,
                "sources": {
                    name: {"label": label, "path": str(data / name)} for name, (label, *_rest) in SOURCES.items()
                },
            }
        },
    }
    path = workdir / "scale.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake_cmd(workdir: Path, config: Path, cores: int, *extra: str) -> list[str]:
    return [
        PYTHON,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "-d",
        str(workdir),
        "--cores",
        str(cores),
        *extra,
        "--configfile",
        str(config),
    ]


def logged_progress(log: Path) -> tuple[int, float] | None:
    """The images done and images/s of a features job's last progress line (tqdm's counts:
    ``features, shard 0/5: 407/407 [00:00, 1791.44image/s]``), or None if it logged none."""
    found = re.findall(r"(\d+)/\d+ \[[^,\]]*, ([\d.]+)image/s\]", log.read_text())
    return (int(found[-1][0]), float(found[-1][1])) if found else None


def shard_log_rates(workdir: Path) -> list[float]:
    """The final images/s that each feature shard job logged (one job = one core)."""
    logs = sorted((workdir / "logs" / DATASET / "features").rglob("shard-*.log"))
    return [progress[1] for log in logs if (progress := logged_progress(log))]


def run_workflow(args, workdir: Path, config: Path, total: int) -> None:
    for name in ("results", "logs", ".snakemake"):
        shutil.rmtree(workdir / name, ignore_errors=True)
    log = workdir / "snakemake-run.log"
    print(f"\n== workflow: {' '.join(snakemake_cmd(workdir, config, args.cores))}", flush=True)
    m = measure(snakemake_cmd(workdir, config, args.cores), cwd=workdir, log=log)
    section = f"workflow ({total:,} images, {args.side} px, --cores {args.cores})"
    if m.returncode:
        print(log.read_text()[-3000:])
        record(section, "FAILED", f"exit {m.returncode}, see {log}")
        return
    spans = stage_spans(m)
    first_job = min((s[0] for s in spans.values()), default=float("nan"))
    record(section, "total wall time", f"{m.wall:.1f} s", "workflow_wall_s", m.wall)
    record(section, "start -> first job (parse config, glob, DAG)", f"{first_job:.1f} s", "workflow_dag_s", first_job)
    for stage, (start, end, count, peak) in sorted(spans.items(), key=lambda item: item[1][0]):  # in order of start
        record(
            section,
            f"stage {stage}: wall (first start -> last end), jobs, peak RSS of one job",
            f"{end - start:.1f} s, {count} jobs, {mb(peak)}",
            f"stage_{stage}",
            [end - start, count, peak],
        )
    rates = shard_log_rates(workdir)
    if rates:
        per_core = statistics.mean(rates)
        record(
            section,
            "features: images/s per core (mean of shard logs)",
            f"{per_core:,.0f}",
            "features_per_core",
            per_core,
        )
        if "features" in spans:
            start, end, *_ = spans["features"]
            record(
                section,
                "features: images/s, whole stage (all cores, incl. job start-up)",
                f"{total / (end - start):,.0f}",
                "features_stage_rate",
                total / (end - start),
            )
    largest_job = max((job.peak_rss for job in m.jobs.values()), default=0)
    record(
        section,
        "peak RSS (polled): snakemake process / largest job / tree sum",
        f"{mb(m.root_peak)} / {mb(largest_job)} / {mb(m.tree_peak)}",
        "workflow_rss",
        [m.root_peak, largest_job, m.tree_peak],
    )
    record(
        section, "snakemake console log", f"{log.stat().st_size / 1e6:.1f} MB", "console_log_bytes", log.stat().st_size
    )
    size = sum(p.stat().st_size for p in (workdir / "results").rglob("*") if p.is_file())
    record(section, "results/ on disk", mb(size))

    noop_log = workdir / "snakemake-noop.log"
    m = measure(snakemake_cmd(workdir, config, args.cores, "-n"), cwd=workdir, log=noop_log)
    nothing = "Nothing to be done" in noop_log.read_text()
    record(
        f"no-op `snakemake -n` ({total:,} images in the manifest)",
        "wall time, peak RSS",
        f"{m.wall:.1f} s, {mb(m.max_rss)}" + ("" if nothing else " (NOT a no-op: see snakemake-noop.log)"),
        "noop",
        [m.wall, m.max_rss],
    )


# ----------------------------------------------------------------------------- shard memory


def shard_memory(args, workdir: Path, total: int) -> None:
    manifest = workdir / "results" / DATASET / "manifest.parquet"
    if not manifest.exists():
        return
    out = workdir / "bench-shard.parquet"
    section = f"one feature shard job ({args.side} px): memory as the shard grows"

    def first_shard(shards: int) -> list[str]:
        """The command computing the features of shard 0 of ``shards``."""
        options = {"--manifest": manifest, "--shard": 0, "--shards": shards, "--variant": "faces_hq", "--out": out}
        return [PYTHON, "-m", "unmask", "features", *(str(x) for pair in options.items() for x in pair)]

    seen = set()
    for target in args.shard_images:
        shards = max(1, round(total / target))
        if shards in seen:
            continue
        seen.add(shards)
        log = workdir / f"bench-shard-{shards}.log"
        m = measure(first_shard(shards), log=log)
        images, rate = logged_progress(log) or (0, 0.0)
        print(f"  --shards {shards}: {images} images, {m.wall:.1f} s, max RSS {mb(m.max_rss)}", flush=True)
        record(
            section,
            f"--shards {shards:>3}: {images:,} images",
            f"max RSS {mb(m.max_rss)}, {m.wall:.1f} s, {rate:,.0f} images/s",
            f"shard_{images}",
            [images, m.max_rss, m.wall, rate],
        )
    # The fixed cost of a job: interpreter start-up and imports, reading the manifest, an empty shard.
    m = measure(first_shard(1_000_000))
    record(
        section,
        "fixed cost of a job (an empty shard: start-up, imports, manifest read)",
        f"{m.wall:.2f} s, max RSS {mb(m.max_rss)}",
        "job_fixed_s",
        m.wall,
    )
    out.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- training


def train_times(args, workdir: Path, shards: list[Path], what: str, tag: str) -> None:
    """Time `unmask train` (1 repeat) per classifier and size on the features in ``shards``."""
    if not shards:
        return
    from unmask.learn.protocol import Protocol, load_features

    started = time.perf_counter()
    data = load_features(shards)
    load = time.perf_counter() - started
    available = int(2 * min(np.sum(data.y == 0), np.sum(data.y == 1)))
    sizes = sorted({s for s in args.train_sizes if s <= available} | {available})
    section = (
        f"training on {what}, 1 repeat ({data.X.shape[1]} features; "
        f"load_features of {len(data.y):,} rows: {load:.2f} s)"
    )
    print(f"\n== training on {what}: sizes {sizes}, {data.X.shape[1]} features", flush=True)
    out = workdir / f"bench-train-{tag}"
    out.mkdir(exist_ok=True)
    for name, spec in CLASSIFIERS.items():
        for size in sizes:
            runs = out / f"{name}-{size}.parquet"
            cmd = [
                PYTHON,
                "-m",
                "unmask",
                "train",
                *map(str, shards),
                "--name",
                name,
                "--spec",
                json.dumps(spec),
                "--samples",
                str(size),
                "--protocol",
                Protocol("sample_split", repeats=1, test_fraction=0.2, seed=0).to_json(),
                "--out",
                str(runs),
                "--predictions",
                str(out / f"{name}-{size}.predictions.parquet"),
            ]
            m = measure(cmd, log=out / f"{name}-{size}.log", timeout=args.train_timeout)
            if m.timed_out:
                value, fit = f"> {args.train_timeout:.0f} s (stopped)", None
            elif m.returncode:
                value, fit = f"failed (exit {m.returncode}, see {out / f'{name}-{size}.log'})", None
            else:
                row = pq.read_table(runs).to_pylist()[0]
                fit = row["fit_seconds"]
                value = f"fit {fit:.2f} s, job {m.wall:.1f} s, accuracy {row['accuracy']:.3f}, {mb(m.max_rss)}"
            print(f"  {name} n={size}: {value}", flush=True)
            label = "all" if size == available else ""
            record(section, f"{name:<6} n={size:>6,} {label}", value, f"train_{tag}_{name}_{size}", [fit, m.wall])


# ----------------------------------------------------------------------------- manifest and Parquet costs


def manifest_costs(data: Path, files: list[Path], label: str) -> tuple[float, float, float]:
    """ms per file of the manifest's header probe and sha256 (page cache warm); and of listing."""
    from unmask.data.images import probe
    from unmask.io import file_digest

    t = time.perf_counter()
    for path in files:
        probe(path)
    probe_ms = 1e3 * (time.perf_counter() - t) / len(files)
    t = time.perf_counter()
    for path in files:
        file_digest(path)
    hash_ms = 1e3 * (time.perf_counter() - t) / len(files)
    return probe_ms, hash_ms, statistics.mean(p.stat().st_size for p in files)


def manifest_section(args, data: Path, hq_files: list[Path], total: int) -> None:
    from unmask.data.images import list_images

    section = "manifest stage, per file (one process, page cache warm)"
    t = time.perf_counter()
    files = [p for name in SOURCES for p in list_images(data / name)]
    listing = time.perf_counter() - t
    record(section, f"list_images of {len(files):,} files (4 folders)", f"{listing:.2f} s", "list_images_s", listing)
    sample = files[:: max(1, len(files) // 4000)]
    probe_ms, hash_ms, size = manifest_costs(data, sample, f"{args.side} px")
    record(
        section,
        f"{args.side} px JPEG ({size / 1e3:.0f} kB): probe / sha256",
        f"{probe_ms:.3f} / {hash_ms:.3f} ms",
        "manifest_small_ms",
        [probe_ms, hash_ms],
    )
    if hq_files:
        probe_ms, hash_ms, size = manifest_costs(data, hq_files, "1024 px")
        per_file = probe_ms + hash_ms
        record(
            section,
            f"1024 px JPEG ({size / 1e3:.0f} kB): probe / sha256",
            f"{probe_ms:.3f} / {hash_ms:.3f} ms",
            "manifest_1024_ms",
            [probe_ms, hash_ms],
        )
        record(
            section,
            "  -> 40,000 Faces-HQ files, one core, warm cache",
            f"~{40000 * per_file / 1e3:.0f} s (+ reading {40000 * size / 1e9:.1f} GB cold)",
            "manifest_1024_extrapolated_s",
            40000 * per_file / 1e3,
        )


def parquet_section(workdir: Path) -> None:
    """Faces-HQ-sized feature shards: 40,000 x 722 float64 in 16 shards, written as the feature job writes them."""
    from unmask.features.extract import BATCH_SIZE, FEATURES_SCHEMA, vectors_to_arrow
    from unmask.learn.protocol import load_features

    folder = workdir / "bench-parquet"
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    per_shard, shards, length = 2500, 16, 722
    vectors = list(rng.normal(size=(per_shard, length)))
    ids = [f"src/img_{i:06d}.jpg" for i in range(per_shard)]
    write = 0.0
    paths = []
    for k in range(shards):
        path = folder / f"shard-{k}.parquet"
        t = time.perf_counter()
        with pq.ParquetWriter(path, FEATURES_SCHEMA) as writer:
            for offset in range(0, per_shard, BATCH_SIZE):
                n = min(BATCH_SIZE, per_shard - offset)
                writer.write_table(
                    pa.table(
                        {
                            "id": ids[offset : offset + n],
                            "label": pa.array([k % 2] * n, pa.int8()),
                            "source": ["src"] * n,
                            "group": ids[offset : offset + n],
                            "video": pa.nulls(n, pa.string()),
                            "features": vectors_to_arrow(vectors[offset : offset + n]),
                            "reason": pa.nulls(n, pa.string()),
                        },
                        schema=FEATURES_SCHEMA,
                    )
                )
        write += time.perf_counter() - t
        paths.append(path)
    t = time.perf_counter()
    data = load_features(paths)
    load = time.perf_counter() - t
    size = sum(p.stat().st_size for p in paths)
    section = "Parquet at Faces-HQ size (40,000 x 722 float64, 16 shards)"
    record(
        section,
        "write (as the feature job: batches of 256), all shards",
        f"{write:.2f} s ({write / shards * 1e3:.0f} ms per shard)",
        "parquet_write_s",
        write,
    )
    record(
        section,
        "load_features (what every train job does first)",
        f"{load:.2f} s, {mb(size)} on disk, X {mb(data.X.nbytes)}",
        "parquet_load_s",
        load,
    )
    shutil.rmtree(folder)


# ----------------------------------------------------------------------------- 1024 px throughput


def throughput_1024(args, workdir: Path) -> list[Path]:
    from threadpoolctl import threadpool_limits

    from unmask.data.images import read_gray
    from unmask.features import spectrum

    try:
        from benchmarks import original
    except ImportError:  # run as a script
        sys.path.insert(0, str(Path(__file__).parent))
        import original  # type: ignore[no-redef]

    hq = workdir / "hq"
    per_source = max(1, args.hq_count // 4)
    print(f"\n== 1024 px: generating {4 * per_source} images", flush=True)
    gen, size, reused = generate(hq / "data", per_source, 1024, args.cores)
    all_files = sorted((hq / "data").rglob("*.jpg"))
    files = all_files[:: max(1, len(all_files) // args.hq_timed)][: args.hq_timed]  # spread over the 4 sources
    cv2.setNumThreads(1)
    unmask_t, original_t = [], []
    with threadpool_limits(limits=1):
        spectrum.features(read_gray(files[0]), "faces_hq")  # warm: ring geometry, FFT plan
        original.features(cv2.imread(str(files[0]), cv2.IMREAD_GRAYSCALE), "faces_hq")
        # Interleaved in blocks of 10 images, so machine load hits both alike while each runs image
        # after image as in a shard; a block's first image is dropped (the other's temporaries evicted
        # its caches).
        for start in range(0, len(files), 10):
            block = files[start : start + 10]
            for j, path in enumerate(block):
                t = time.perf_counter()
                spectrum.features(read_gray(path), "faces_hq")
                if j:
                    unmask_t.append(time.perf_counter() - t)
            for j, path in enumerate(block):
                t = time.perf_counter()
                original.features(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), "faces_hq")
                if j:
                    original_t.append(time.perf_counter() - t)
    u, o = 1e3 * statistics.median(unmask_t), 1e3 * statistics.median(original_t)
    section = f"1024 x 1024 px JPEGs ({size / len(all_files) / 1e3:.0f} kB each): read + decode + features, one core"
    record(section, f"generation of {len(all_files):,} images (2 processes)", "reused" if reused else f"{gen:.1f} s")
    section_timed = f"{len(files)} images, interleaved in one process"
    record(
        section,
        f"unmask ({section_timed}): ms per image (median) -> images/s",
        f"{u:.1f} ms -> {1e3 / u:.0f}",
        "hq_unmask_ms",
        u,
    )
    record(
        section,
        "original (benchmarks/original.py), same images: ms per image -> images/s",
        f"{o:.1f} ms -> {1e3 / o:.1f}",
        "hq_original_ms",
        o,
    )
    record(section, "ratio original / unmask (read + decode included)", f"{o / u:.1f}x", "hq_ratio", o / u)
    record(
        section,
        "  -> Faces-HQ 40,000 images on one core: unmask / original",
        f"{40000 * u / 3.6e6:.2f} h / {40000 * o / 3.6e6:.2f} h",
    )

    # The real feature job on these images (manifest first), as snakemake would run it.
    spec = {
        "sources": {name: {"label": label, "path": str(hq / "data" / name)} for name, (label, *_r) in SOURCES.items()},
        "image_size": [1024, 1024],
    }
    manifest = hq / "manifest.parquet"
    m = measure(
        [
            PYTHON,
            "-m",
            "unmask",
            "manifest",
            "--spec",
            json.dumps(spec),
            "--out",
            str(manifest),
            "--rejects",
            str(hq / "rejects.parquet"),
        ],
        log=hq / "manifest.log",
    )
    record(
        section,
        f"`unmask manifest` job, {len(all_files):,} images (incl. ~1 s start-up)",
        f"{m.wall:.1f} s, max RSS {mb(m.max_rss)}",
        "hq_manifest_s",
        m.wall,
    )
    log = hq / "features.log"
    features = hq / "features" / "shard-0.parquet"
    m = measure(
        [
            PYTHON,
            "-m",
            "unmask",
            "features",
            "--manifest",
            str(manifest),
            "--shard",
            "0",
            "--shards",
            "1",
            "--variant",
            "faces_hq",
            "--out",
            str(features),
        ],
        log=log,
    )
    rate = f"{progress[1]:.0f}" if (progress := logged_progress(log)) else "?"
    record(
        section,
        f"`unmask features` job, one shard of {len(all_files):,} images: images/s (log), wall, max RSS",
        f"{rate} images/s, {m.wall:.1f} s, {mb(m.max_rss)}",
        "hq_job",
        [rate, m.wall, m.max_rss],
    )
    if "train" not in args.skip and features.exists():
        train_times(args, hq, [features], f"{len(all_files):,} images of 1024 px", "1024")
    return files


# ----------------------------------------------------------------------------- main


def print_table() -> None:
    width = max(len(name) for _, name, _ in FIGURES) + 2
    section = None
    print("\n" + "=" * 100)
    for sec, name, value in FIGURES:
        if sec != section:
            print(f"\n{sec}")
            section = sec
        print(f"  {name:<{width}} {value}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images-per-source", type=int, default=10_000, help="JPEGs per source (4 sources)")
    parser.add_argument("--side", type=int, default=128, help="image side for the workflow run (px)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/unmask-bench-scale"))
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--shards", type=int, default=16, help="feature shards in the workflow (faces_hq uses 16)")
    parser.add_argument("--repeats", type=int, default=10, help="repeats of the workflow's train jobs")
    parser.add_argument(
        "--shard-images",
        type=int,
        nargs="+",
        default=[1000, 5000, 20000],
        help="images per shard for the shard-memory runs",
    )
    parser.add_argument("--train-sizes", type=int, nargs="+", default=[20, 100, 1000, 4000], help="plus all available")
    parser.add_argument("--train-timeout", type=float, default=240.0, help="seconds before a train run is stopped")
    parser.add_argument(
        "--hq-count",
        type=int,
        default=4000,
        help="1024 px images: one feature job over all of them, then training on their 722 features",
    )
    parser.add_argument("--hq-timed", type=int, default=200, help="of those, images timed with unmask and the original")
    parser.add_argument("--quick", action="store_true", help="500 images per source, 100 at 1024 px (~2 minutes)")
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["workflow", "shards", "train", "manifest", "parquet", "hq"]
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (reused data is not regenerated)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    if args.quick:
        args.images_per_source, args.hq_count, args.hq_timed, args.train_timeout = 500, 100, 40, 60.0

    workdir = args.workdir.resolve()
    created = not workdir.exists()
    workdir.mkdir(parents=True, exist_ok=True)
    total = 4 * args.images_per_source
    started = time.perf_counter()
    import numpy  # noqa: E401, F401  (versions only)
    import scipy
    import sklearn
    import snakemake

    print(
        f"{datetime.datetime.now():%Y-%m-%d %H:%M}  Python {platform.python_version()}, snakemake "
        f"{getattr(snakemake, '__version__', '?')}, numpy {numpy.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}, OpenCV {cv2.__version__}; {os.cpu_count()} CPUs, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GB RAM, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"command: {' '.join(sys.argv)}")

    data = workdir / "data"
    print(f"\n== generating {total:,} JPEGs of {args.side} px in {data}", flush=True)
    gen, size, reused = generate(data, args.images_per_source, args.side, args.cores)
    section = f"dataset: 4 sources x {args.images_per_source:,} JPEGs, {args.side} px"
    record(section, "generation (2 processes)" if not reused else "generation", "reused" if reused else f"{gen:.1f} s")
    record(section, "on disk", f"{mb(size)} ({size / total / 1e3:.1f} kB per image)")

    available = total  # 2 real + 2 fake sources of equal size
    sizes = [s for s in (4000, 1000, 100, 20) if s <= available]
    config = write_config(workdir, data, args.side, sizes, args.repeats, args.shards)
    record(section, "workflow config", f"{config} (sizes {sizes}, repeats {args.repeats}, shards {args.shards})")

    if "workflow" not in args.skip:
        run_workflow(args, workdir, config, total)
    if "shards" not in args.skip:
        print("\n== shard memory", flush=True)
        shard_memory(args, workdir, total)
    if "train" not in args.skip:
        shards = sorted((workdir / "results" / DATASET / "features" / "faces_hq").glob("shard-*.parquet"))
        train_times(args, workdir, shards, f"the workflow's features ({args.side} px)", f"{args.side}")
    hq_files = []
    if "hq" not in args.skip:
        hq_files = throughput_1024(args, workdir)
    if "manifest" not in args.skip:
        manifest_section(args, data, hq_files, total)
    if "parquet" not in args.skip:
        parquet_section(workdir)

    print_table()
    print(f"\nbenchmark wall time: {(time.perf_counter() - started) / 60:.1f} min")
    if args.json:
        args.json.write_text(json.dumps(RESULTS, indent=1, default=str))
    if created and not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"removed {workdir}")


if __name__ == "__main__":
    main()
