"""Run a workflow through a real (single-node) SLURM cluster.

The cluster is started with ``.ci/slurm/start.sh`` when it is not already up.
The test is skipped, with the reason printed by ``pytest -ra``, when that is not
possible here (not root, no apt-get, plugin not installed). Set
``UNMASK_REQUIRE_SLURM=1`` (as CI does) to turn those skips into failures.

``run_snakemake_slurm`` is the reusable helper: it runs any Snakefile with the
repo's ``profiles/slurm`` workflow profile plus the test-cluster overrides.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
import yaml
from conftest import SMALL_DEMO, copy_workflow, snakemake, write_config

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "profiles" / "slurm"
START_SCRIPT = REPO / ".ci" / "slurm" / "start.sh"

# Partition of the test cluster written by .ci/slurm/start.sh.
PARTITION = os.environ.get("UNMASK_SLURM_PARTITION", "debug")
# Seconds before the plugin's first squeue poll (plugin default: 40).
STATUS_INTERVAL = int(os.environ.get("UNMASK_SLURM_STATUS_INTERVAL", "5"))

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("UNMASK_REQUIRE_SLURM") == "1":
        pytest.fail(f"UNMASK_REQUIRE_SLURM=1 but: {reason}", pytrace=False)
    pytest.skip(reason)


def slurm_node_state() -> str:
    """State of this host's node as `sinfo` sees it ('' if no answer)."""
    if shutil.which("sinfo") is None:
        return ""
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        return ""
    return out.stdout.split()[0] if out.returncode == 0 and out.stdout.split() else ""


def _daemon_running(name: str) -> bool:
    """A live (non-zombie) process whose command name is `name`."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
            comm = fields[0].split("(", 1)[1]
        except (OSError, IndexError):
            continue
        if comm == name and not fields[1].split()[0] == "Z":
            return True
    return False


def slurm_up() -> bool:
    # cheap check first: sinfo takes ~10 s to give up when no slurmctld runs
    if Path("/proc/self/stat").exists() and not _daemon_running("slurmctld"):
        return False
    return slurm_node_state() in {"idle", "mix", "alloc", "comp"}


def ensure_slurm_cluster() -> None:
    """Make sure a SLURM cluster answers; start one with start.sh if needed."""
    slurm_plugin_installed()
    if slurm_up():
        return
    if os.geteuid() != 0:
        _skip_or_fail(
            "no SLURM cluster is running and .ci/slurm/start.sh needs root "
            "to start one (run `sudo bash .ci/slurm/start.sh` first)"
        )
    if shutil.which("slurmctld") is None and shutil.which("apt-get") is None:
        _skip_or_fail("no SLURM cluster is running, SLURM is not installed and apt-get is unavailable to install it")
    proc = subprocess.run(["bash", str(START_SCRIPT)], capture_output=True, text=True, timeout=900)
    if proc.returncode != 0 or not slurm_up():
        pytest.fail(
            f".ci/slurm/start.sh failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}",
            pytrace=False,
        )


def profile_default_resources(profile: Path = PROFILE) -> dict:
    """`default-resources` of a profile as a dict."""
    data = yaml.safe_load((profile / "profile.yaml").read_text()) or {}
    res = data.get("default-resources") or {}
    if isinstance(res, list):  # also accept the ["key=value", ...] form
        res = dict(item.split("=", 1) for item in res)
    return dict(res)


def _resource_arg(key: str, value) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{key}={value}"
    value = str(value)
    if re.fullmatch(r"[\d.]+", value):
        return f"{key}={value}"
    return f"{key}={value!r}"  # quoted: snakemake evaluates resource values


def run_snakemake_slurm(
    snakefile: Path | str,
    workdir: Path | str,
    targets: Iterable[str] = (),
    extra_args: Sequence[str] = (),
    *,
    partition: str | None = PARTITION,
    resources: dict | None = None,
    status_interval: int = STATUS_INTERVAL,
    timeout: float = 1800,
) -> subprocess.CompletedProcess:
    """Run snakemake with ``--workflow-profile profiles/slurm`` + test overrides.

    A command-line ``--default-resources`` replaces the profile's whole list,
    so the profile's defaults are read and merged with ``partition`` and
    ``resources`` before passing them. Successful jobs' SLURM logs are kept
    (``.snakemake/slurm_logs/``). stdout+stderr are combined in ``.stdout``
    and also written to ``<workdir>/snakemake_slurm.log``. Does not raise on
    a non-zero exit: check ``.returncode``.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    res = profile_default_resources()
    if partition:
        res["slurm_partition"] = partition
    res.update(resources or {})
    cmd = [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(snakefile),
        "--directory", str(workdir),
        "--workflow-profile", str(PROFILE),
        "--default-resources", *(_resource_arg(k, v) for k, v in res.items()),
        "--slurm-init-seconds-before-status-checks", str(status_interval),
        "--slurm-keep-successful-logs",
        "--nocolor",
        *targets,  # before extra_args: an option such as --configfile takes every word after it
        *extra_args,
    ]  # fmt: skip
    proc = subprocess.run(
        cmd,
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    (workdir / "snakemake_slurm.log").write_text("$ " + " ".join(cmd) + "\n" + proc.stdout)
    return proc


def submitted_slurm_job_ids(snakemake_output: str) -> list[str]:
    """SLURM job ids from the plugin's 'submitted with SLURM jobid N' lines."""
    return re.findall(r"submitted with SLURM jobid (\d+)", snakemake_output)


def squeue_states(job_ids: Iterable[str]) -> dict[str, str]:
    """{job id: state} from squeue (finished jobs stay for MinJobAge)."""
    ids = list(job_ids)
    if not ids:
        return {}
    out = subprocess.run(
        ["squeue", "--states=all", "--noheader", "-o", "%i|%T", "-j", ",".join(ids)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return dict(line.split("|", 1) for line in out.stdout.split() if "|" in line)


def slurm_plugin_installed() -> None:
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        _skip_or_fail("snakemake-executor-plugin-slurm is not installed (pip install -e '.[slurm]')")


@pytest.fixture
def local_demo(demo_run) -> Path:
    """The small demo, run locally (the reference for the cluster run)."""
    return demo_run[0]


def test_dry_run_shows_rule_resources_and_groups(local_demo: Path) -> None:
    slurm_plugin_installed()
    config = local_demo / "small.yaml"
    result = snakemake(local_demo, "-n", "-F", "--workflow-profile", str(PROFILE), "--configfile", str(config))
    output = result.stdout
    assert "Group job features" in output and "Group job train" in output
    features = output.split("rule features:")[1].split("rule ")[0]
    assert re.search(r"resources: .*mem_mb=1000\b.*runtime=10\b", features), features
    train = output.split("rule train:")[1].split("rule ")[0]
    assert re.search(r"resources: .*mem_mb=10\d\d\b", train), train


def test_demo_through_sbatch_equals_the_local_run(local_demo: Path, tmp_path: Path) -> None:
    ensure_slurm_cluster()
    local, cluster = local_demo, copy_workflow(tmp_path)
    write_config(cluster / "small.yaml", SMALL_DEMO)
    table = "results/demo_table.csv"  # the paper's table: manifest, feature shards and training go through sbatch
    proc = run_snakemake_slurm(
        cluster / "Snakefile", cluster, [table], extra_args=["--configfile", str(cluster / "small.yaml")]
    )
    assert proc.returncode == 0, proc.stdout[-6000:]

    assert (cluster / table).read_text() == (local / table).read_text()

    job_ids = submitted_slurm_job_ids(proc.stdout)
    assert job_ids, proc.stdout[-6000:]
    assert set(squeue_states(job_ids).values()) == {"COMPLETED"}
    logs = cluster / ".snakemake" / "slurm_logs"
    assert {p.stem for p in logs.rglob("*.log")} >= set(job_ids)
    folders = {p.name for p in logs.iterdir()}
    assert "rule_manifest" in folders, folders
    assert any(f.startswith("group_features") for f in folders) and any(f.startswith("group_train") for f in folders), (
        "the shard jobs were submitted as group jobs"
    )
    assert len(job_ids) == 3, "one manifest job, one group of feature shards, one group of training jobs"
