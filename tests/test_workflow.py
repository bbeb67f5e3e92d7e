"""The workflow end to end on the built-in demo data: outputs, no-op reruns, and what reruns after a change."""

from __future__ import annotations

import ast
import os
import shutil

import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import SMALL_DEMO, copy_workflow, planned_rules, snakemake, write_config

pytestmark = pytest.mark.workflow  # every test here runs Snakemake

CLASSIFIERS = ["svm", "logreg", "kmeans"]
GENERALISATION = {"robustness_repeat": 2, "robustness_table": 1, "cross_source": 1, "leave_one_out": 1}
PAGES = {"report_table": 5, "data_page": 1, "model_card": 3}  # the report's pages: 5 tables, data checks, 3 models
# The jobs of the small demo from each stage down (a stage's own jobs and everything after them).
FROM_TRAIN = {
    "train": 6,
    "model": 3,
    "table": 1,
    "metrics": 1,
    "spectra": 1,
    "rejects": 1,
    "audit": 1,  # it counts the rejects, which the features stage adds to
    **GENERALISATION,
    **PAGES,
    "all": 1,
}
FROM_FEATURES = {"features": 2, **FROM_TRAIN}


def test_dry_run_plans_every_stage(tmp_path):
    workdir = copy_workflow(tmp_path)
    config = write_config(workdir / "small.yaml", SMALL_DEMO)
    plan = planned_rules(workdir, "--configfile", str(config))
    assert plan == {"acquire": 4, "manifest": 1, **FROM_FEATURES}


def test_demo_outputs(demo_run):
    workdir, _ = demo_run
    table = pd.read_csv(workdir / "results/demo_table.csv")
    assert list(table.columns) == ["samples", *CLASSIFIERS, *(f"{c}_std" for c in CLASSIFIERS)]
    assert table["samples"].tolist() == [40, 20]
    for classifier in CLASSIFIERS:  # each cell is the mean of that classifier's repeats at that size
        for samples, cell in zip(table["samples"], table[classifier]):
            runs = pq.read_table(workdir / f"results/demo/runs/{classifier}/n{samples}.parquet").to_pandas()
            assert cell == pytest.approx(runs["accuracy"].mean(), abs=5e-7), (classifier, samples)  # CSV: 6 digits
    assert table["logreg"].iloc[0] > 0.6, "the demo's fakes are spectrally distinct: a linear model must beat chance"
    runs = pq.read_table(workdir / "results/demo/runs/svm/n40.parquet").to_pandas()
    assert len(runs) == 3 and set(runs["n_test"]) == {8}
    manifest = pq.read_table(workdir / "results/demo/manifest.parquet").to_pandas()
    assert len(manifest) == 64 and manifest["id"].is_unique
    assert sorted(manifest.groupby("label").size()) == [32, 32]
    features = pq.read_table(workdir / "results/demo/features/faces_hq/shard-0.parquet").to_pandas()
    assert features["features"].map(len).eq(88).all()  # 128 px images: 88 rings
    for figure in ("accuracy.png", "spectra.png"):
        assert (workdir / "results/demo/figures" / figure).read_bytes()[:4] == b"\x89PNG"
    assert pd.read_csv(workdir / "results/demo/rejects.csv").empty
    metrics = pd.read_csv(workdir / "results/demo/metrics.csv")
    assert list(metrics.columns) == [
        "dataset",
        "classifier",
        "samples",
        "metric",
        "mean",
        "std",
        "ci_low",
        "ci_high",
        "repeats",
    ]
    assert set(metrics["metric"]) == {
        "accuracy",
        "balanced_accuracy",
        "roc_auc",
        "average_precision",
        "eer",
        "tpr_at_fpr_1",
        "tpr_at_fpr_5",
        "accuracy_real",
        "accuracy_fake",
    }
    accuracy = metrics.set_index(["classifier", "samples", "metric"])["mean"]
    assert accuracy["svm", 40, "accuracy"] == pytest.approx(table.loc[table["samples"] == 40, "svm"].iloc[0])


def test_second_run_does_nothing(demo_run):
    workdir, config = demo_run
    assert planned_rules(workdir, "--configfile", str(config)) == {}


def test_training_parameter_reruns_training_only(demo_run, tmp_path):
    workdir, _ = demo_run
    changed = {"datasets": {"demo": {**SMALL_DEMO["datasets"]["demo"], "repeats": 2}}}
    config = write_config(tmp_path / "changed.yaml", changed)
    assert planned_rules(workdir, "--configfile", str(config)) == {
        "train": 6,
        "table": 1,
        "metrics": 1,
        "cross_source": 1,
        "leave_one_out": 1,
        "report_table": 4,
        "all": 1,
    }, "the repeats do not change the stored models, nor the robustness analysis (it has its own repeats)"


def test_variant_reruns_features_and_below(demo_run, tmp_path):
    workdir, _ = demo_run
    changed = {"datasets": {"demo": {**SMALL_DEMO["datasets"]["demo"], "variant": "celeba"}}}
    config = write_config(tmp_path / "changed.yaml", changed)
    plan = planned_rules(workdir, "--configfile", str(config))
    assert plan == FROM_FEATURES


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("learn/protocol.py", FROM_TRAIN),
        ("features/fourier.py", FROM_FEATURES),
        ("features/spectrum.py", FROM_FEATURES),
        (
            "analyses/tables.py",  # commands/report.py: every table and figure of a dataset (not the repeats)
            {"table": 1, "metrics": 1, "spectra": 1, "rejects": 1, "audit": 1, "robustness_table": 1}
            | {"report_table": 3, "data_page": 1, "all": 1},
        ),
        (
            "analyses/figures.py",
            {
                "table": 1,
                "metrics": 1,
                "spectra": 1,
                "rejects": 1,
                "audit": 1,
                "robustness_table": 1,
                "cross_source": 1,
                "leave_one_out": 1,
                **PAGES,  # the model cards draw their reliability plot
                "all": 1,
            },
        ),
        ("analyses/robustness.py", {"robustness_repeat": 2, "robustness_table": 1, "report_table": 1, "all": 1}),
        (
            "analyses/generalisation.py",
            {"cross_source": 1, "leave_one_out": 1, "report_table": 2, "all": 1},
        ),  # robustness: learn/protocol.py
        ("commands/train.py", {"train": 6, "table": 1, "metrics": 1, "report_table": 2, "all": 1}),
    ],
)
def test_editing_a_stage_reruns_it_and_what_follows(demo_run, module, expected):
    workdir, config = demo_run
    path = workdir / "unmask" / module
    original = path.read_text()
    try:
        path.write_text(original + "\nAN_EDIT = 1\n")
        assert planned_rules(workdir, "--configfile", str(config)) == expected
    finally:
        path.write_text(original)


def test_rerun_after_change_keeps_features(demo_run, tmp_path):
    workdir = tmp_path / "demo"
    shutil.copytree(demo_run[0], workdir, symlinks=True)  # a private copy: this test leaves it changed
    shard = workdir / "results/demo/features/faces_hq/shard-0.parquet"
    before = shard.stat().st_mtime_ns
    changed = {"datasets": {"demo": {**SMALL_DEMO["datasets"]["demo"], "repeats": 2}}}
    runs = "results/demo/runs/kmeans/n20.parquet"
    snakemake(workdir, runs, "--configfile", str(write_config(tmp_path / "changed.yaml", changed)))
    assert pq.read_table(workdir / runs).num_rows == 2
    assert shard.stat().st_mtime_ns == before


def test_the_datasets_repeats_rerun_its_analyses_but_not_the_robustness_repeats(demo_run, tmp_path):
    """Robustness jobs take the dataset's protocol with robustness.repeats, so other repeats leave them be."""
    workdir, _ = demo_run
    changed = {"datasets": {"demo": {**SMALL_DEMO["datasets"]["demo"], "repeats": 2}}}
    plan = planned_rules(workdir, "--configfile", str(write_config(tmp_path / "changed.yaml", changed)))
    assert plan["train"] == 6 and plan["cross_source"] == plan["leave_one_out"] == 1
    assert "robustness_repeat" not in plan


def test_report_gathers_figures_and_tables(demo_run):
    workdir, config = demo_run
    snakemake(workdir, "--report", "results/report.html", "--configfile", str(config))
    html = (workdir / "results/report.html").read_text()
    for name in (
        "accuracy.png",
        "spectra.png",
        "demo_table.csv",
        "metrics.csv",
        "format_audit.csv",
        "svm.calibration.csv",
    ):
        assert name in html, name
    assert "fake sources dashed" in html, "figures carry their captions"


def edit_a_function_body(path):
    """Add a statement before the last one of the module's last top-level function."""
    lines = path.read_text().splitlines(keepends=True)
    function = [node for node in ast.parse("".join(lines)).body if isinstance(node, ast.FunctionDef)][-1]
    last = function.body[-1]
    lines.insert(last.lineno - 1, " " * last.col_offset + "_edited = None\n")
    path.write_text("".join(lines))


def test_a_changed_function_body_reruns_its_stage_and_what_follows_only(demo_run):
    workdir, config = demo_run
    path = workdir / "unmask/features/fourier.py"
    original = path.read_text()
    try:
        edit_a_function_body(path)
        plan = planned_rules(workdir, "--configfile", str(config))
        assert plan == FROM_FEATURES, "the manifest and the acquisition do not run the FFT"
    finally:
        path.write_text(original)


def test_touch_comments_and_formatting_rerun_nothing(demo_run):
    workdir, config = demo_run
    originals = {path: path.read_text() for path in (workdir / "unmask").rglob("*.py")}
    try:
        for path, text in originals.items():
            path.write_text(f"# reformatted\n{text}\n\n# the end\n")  # a new mtime, a comment, blank lines
        assert planned_rules(workdir, "--configfile", str(config)) == {}
    finally:
        for path, text in originals.items():
            path.write_text(text)


def test_a_clone_elsewhere_given_the_old_results_reruns_nothing(demo_run, tmp_path):
    workdir, config = demo_run
    clone = shutil.copytree(workdir, tmp_path / "elsewhere" / "clone", symlinks=True)
    for name in ("Snakefile", "config.yaml", "workflow", "unmask", "profiles"):  # a fresh checkout: new times
        for path in [clone / name, *(clone / name).rglob("*")]:
            os.utime(path)
    assert planned_rules(clone, "--configfile", str(clone / config.name)) == {}


EVIL = "x$(touch PWNED)y"


def evil_dataset():
    sources = {
        "a": {"label": "real", "method": "demo", "style": "photo", "count": 4},
        "b": {"label": "fake", "method": "demo", "style": "nearest", "count": 4},
    }
    return {"datasets": {EVIL: {"sources": sources}}, "default_datasets": [EVIL]}


@pytest.mark.parametrize(
    ("config", "target", "message"),
    [
        (
            evil_dataset(),
            f"results/{EVIL}/manifest.parquet",
            f"datasets: the name '{EVIL}' does not match ^(?!.*[.][.])",
        ),
        (
            {"default_datasets": ["nosuch"]},
            "results/demo/manifest.parquet",
            "default_datasets: unknown dataset 'nosuch'; the configured datasets are celeba, demo, dfd, faces_hq",
        ),
        (
            {"cross_dataset": ["demo", "nosuch"]},
            "results/demo/manifest.parquet",
            "cross_dataset: unknown dataset 'nosuch'; the configured datasets are celeba, demo, dfd, faces_hq",
        ),
    ],
    ids=["shell-in-a-name", "unknown-default", "unknown-cross-dataset"],
)
def test_bad_names_stop_the_run_with_one_message(tmp_path, config, target, message):
    workdir = copy_workflow(tmp_path)
    result = snakemake(workdir, target, "--configfile", str(write_config(workdir / "bad.yaml", config)), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and message in output, output
    assert "Traceback" not in output and "KeyError" not in output
    assert not (workdir / "PWNED").exists() and not os.path.exists("PWNED")


def test_a_duplicate_key_in_a_config_file_is_refused(tmp_path):
    workdir = copy_workflow(tmp_path)
    config = workdir / "twice.yaml"
    config.write_text("datasets:\n  demo:\n    repeats: 2\n    seed: 1\n    repeats: 3\n")
    result = snakemake(workdir, "-n", "--configfile", str(config), check=False)
    assert result.returncode != 0
    assert f"{config}, line 5: duplicate key 'repeats'" in result.stdout + result.stderr


def test_the_headline_without_data_names_every_missing_folder_and_the_ways_forward(tmp_path):
    workdir = copy_workflow(tmp_path)
    result = snakemake(workdir, "results/faces_hq_table.csv", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output and "Exception" not in output, output
    for source in ("celeba_hq", "ffhq", "thispersondoesnotexist", "100k_faces"):
        assert f"datasets.faces_hq.sources.{source}: image folder data/raw/faces_hq/{source} does not exist" in output
    assert "put each source's images" in output
    assert "add `--configfile config/faces_hq_download.yaml`" in output and "GB" in output and "hours" in output
