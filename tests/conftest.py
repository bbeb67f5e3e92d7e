"""Shared test helpers: the repository, the research sample data, and running Snakemake."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

from unmask.features import fourier

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
WORKFLOW_FILES = ("Snakefile", "config.yaml", "workflow", "unmask", "profiles")  # profiles/default applies to every run
_RUNNING: dict[str, pytest.Item] = {}


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Note the test being set up, so that `snakemake` can check it carries the `workflow` marker."""
    _RUNNING["test"] = item


# The demo, shrunk so that the whole workflow runs in seconds.
SMALL_DEMO = {
    "datasets": {
        "demo": {
            "sizes": [40, 20],
            "repeats": 3,
            "shards": 2,
            "robustness": {"repeats": 2, "perturbations": ["jpeg:50", "scale:0.5"]},
            "sources": {
                name: {"count": 16} for name in ("photo_jpeg", "photo_png", "nearest_upsampler", "transposed_conv")
            },
        }
    }
}


@pytest.fixture(scope="session", autouse=True)
def logging_as_the_cli_sets_it_up():
    """Log records reach stderr (and so capsys) as under the ``unmask`` command."""
    from unmask.log import setup_logging

    setup_logging(0)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory, worker_id):
    """A private copy of the workflow, run on the small demo; tests that change it restore it.

    The demo runs once per test session: under pytest-xdist the first worker to need it runs it
    in the session's shared folder (the others wait on a lock), and every worker copies the result.
    """
    if worker_id == "master":  # no xdist
        return _run_demo(tmp_path_factory.mktemp("demo"))
    shared = tmp_path_factory.getbasetemp().parent / "demo"
    with FileLock(f"{shared}.lock"):
        if not shared.exists():
            partial, _ = _run_demo(shared.with_name("demo.partial"))
            partial.rename(shared)
    workdir = tmp_path_factory.getbasetemp() / "demo"
    shutil.copytree(shared, workdir, symlinks=True)
    return workdir, workdir / "small.yaml"


def _run_demo(workdir: Path) -> tuple[Path, Path]:
    """The workflow run on the small demo in ``workdir``; its folder and config file."""
    workdir.mkdir(exist_ok=True)
    copy_workflow(workdir)
    config = write_config(workdir / "small.yaml", SMALL_DEMO)
    snakemake(workdir, "--configfile", str(config))
    return workdir, config


@pytest.fixture(params=["pocketfft", "fftw"])
def fft_engine(request, monkeypatch):
    """Run a test with every shape on pocketfft, or every shape on FFTW (a plan from the shipped wisdom where
    there is one, else an FFTW_ESTIMATE plan); the FFTW run skips where the optional pyfftw is absent."""
    if request.param == "fftw" and fourier._fftw() is None:
        pytest.skip("pyfftw (the optional 'fftw' extra: pip install -e '.[fftw]') is not installed")
    monkeypatch.setattr(fourier, "_uses_fftw", lambda shape: request.param == "fftw")
    monkeypatch.setattr(fourier, "FFTW_FLAGS", ("FFTW_ESTIMATE", "FFTW_DESTROY_INPUT"))
    monkeypatch.setattr(fourier, "_transforms", fourier._Transforms())
    return request.param


def shared_data(*parts: str) -> Path:
    """A path in ../shared/data, or skip the test: that research-only data is absent on users' machines."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"research sample data {path} is absent")
    return path


def copy_workflow(dest: Path) -> Path:
    """A private copy of the workflow and package, so a test may edit code without touching the repo."""
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dest / name)
    return dest


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(
    workdir: Path, *args: str, snakefile: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run Snakemake on the workflow in ``workdir`` (by default the workdir's own copy of the Snakefile).

    Only a test marked ``@pytest.mark.workflow`` may (``pytest -m "not workflow"`` is the fast loop)."""
    test = _RUNNING.get("test")
    if test is not None and test.get_closest_marker("workflow") is None:
        raise AssertionError(f"{test.nodeid} runs Snakemake: mark it @pytest.mark.workflow")
    snakefile = snakefile or workdir / "Snakefile"
    command = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(workdir), "--cores", "2", *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result


def planned_rules(workdir: Path, *args: str) -> dict[str, int]:
    """The rules a dry run would execute, with their job counts (empty when nothing is to be done)."""
    output = snakemake(workdir, "-n", "--quiet", "rules", *args).stdout
    counts, in_table = {}, False
    for line in output.splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
        elif in_table and parts and parts[0] == "total":
            break
        elif in_table and len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def unmask_with_its_reader_gone(*args: str) -> tuple[int, str]:
    """Run ``unmask *args`` as ``unmask ... | head -0`` would: the exit code and stderr, stdout closed at once."""
    command = [sys.executable, "-m", "unmask", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    stderr = process.communicate()[1]
    return process.returncode, stderr
