"""CPU seconds of every stage of a workflow run, its jobs run one at a time as Snakemake runs them.

Plans the targets with ``snakemake -n -p --forceall``, then runs each job's command in turn with
``OMP_NUM_THREADS=1`` (Snakemake's setting for a one-thread job) and reports, per stage (the
``unmask`` sub-command), the jobs, CPU seconds and CPU milliseconds per image. Run it on a work
folder whose workflow has run once (``bench_scale.py --keep`` leaves one):

    python -m benchmarks.bench_stages /tmp/unmask-bench-scale /tmp/unmask-bench-scale/scale.yaml 40000
    python -m benchmarks.bench_stages WORKDIR CONFIG IMAGES results/scale_table.csv
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def planned_commands(workdir: Path, config: Path, targets: list[str]) -> list[str]:
    """The shell commands of every job the targets need, in an order that respects their dependencies."""
    plan = subprocess.run(
        [sys.executable, "-m", "snakemake", *targets, "-s", str(REPO / "Snakefile"), "-d", str(workdir)]
        + ["--cores", "1", "-n", "-p", "--forceall", "--configfile", str(config)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    prefix = "Shell command: "
    return [line[len(prefix) :] for line in plan.splitlines() if line.startswith(prefix + "python3 -m unmask ")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workdir", type=Path, help="a work folder where the workflow has run")
    parser.add_argument("config", type=Path, help="its config file")
    parser.add_argument("images", type=int, help="images in the dataset (for the per-image column)")
    parser.add_argument("targets", nargs="*", help="targets (default: the default target)")
    args = parser.parse_args()
    bin_dir = str(Path(sys.executable).parent)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PATH=f"{bin_dir}:{os.environ['PATH']}")
    stages: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for command in planned_commands(args.workdir, args.config, args.targets):
        stage = command.split()[3]
        before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        subprocess.run(["bash", "-c", command], cwd=args.workdir, env=env, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
        stages[stage][0] += 1
        stages[stage][1] += cpu
        print(f"  {stage:18s} {cpu:7.2f} s CPU {time.perf_counter() - started:7.2f} s wall", flush=True)
    print(f"\n{'stage':18s} {'jobs':>4s} {'CPU s':>8s} {'CPU ms/image':>13s}")
    for stage, (jobs, cpu) in stages.items():
        print(f"{stage:18s} {jobs:4d} {cpu:8.1f} {1000 * cpu / args.images:13.3f}")
    jobs, cpu = sum(s[0] for s in stages.values()), sum(s[1] for s in stages.values())
    print(f"{'total':18s} {jobs:4d} {cpu:8.1f} {1000 * cpu / args.images:13.3f}")


if __name__ == "__main__":
    main()
