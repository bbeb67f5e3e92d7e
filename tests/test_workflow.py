"""The workflow end to end on the built-in demo data: outputs, no-op reruns, and what reruns after a change."""
from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import SMALL_DEMO, copy_workflow, planned_rules, snakemake, write_config

CLASSIFIERS = ["svm", "logreg", "kmeans"]
GENERALISATION = {"robustness_repeat": 2, "robustness_table": 1, "cross_source": 1}


def test_dry_run_plans_every_stage(tmp_path):
    workdir = copy_workflow(tmp_path)
    config = write_config(workdir / "small.yaml", SMALL_DEMO)
    plan = planned_rules(workdir, "--configfile", str(config))
    assert plan == {
        "acquire": 4, "manifest": 1, "features": 2, "train": 6, "model": 3, "table": 1, "metrics": 1, "audit": 1,
        "spectra": 1, "rejects": 1, "robustness_repeat": 2, "robustness_table": 1, "cross_source": 1, "all": 1,
    }


def test_demo_outputs(demo_run):
    workdir, _ = demo_run
    table = pd.read_csv(workdir / "results/demo_table.csv")
    assert list(table.columns) == ["samples", *CLASSIFIERS, *(f"{c}_std" for c in CLASSIFIERS)]
    assert table["samples"].tolist() == [40, 20]
    accuracies = table[CLASSIFIERS].to_numpy()
    assert ((accuracies >= 0) & (accuracies <= 1)).all()
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
    assert list(metrics.columns) == ["dataset", "classifier", "samples", "metric", "mean", "std", "ci_low", "ci_high", "repeats"]
    assert set(metrics["metric"]) == {
        "accuracy", "balanced_accuracy", "roc_auc", "average_precision", "eer", "tpr_at_fpr_1", "tpr_at_fpr_5",
        "accuracy_real", "accuracy_fake",
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
    assert planned_rules(workdir, "--configfile", str(config)) == {"train": 6, "table": 1, "metrics": 1, "cross_source": 1, "all": 1}, (
        "the repeats do not change the stored models, nor the robustness analysis (it has its own repeats)"
    )


def test_variant_reruns_features_and_below(demo_run, tmp_path):
    workdir, _ = demo_run
    changed = {"datasets": {"demo": {**SMALL_DEMO["datasets"]["demo"], "variant": "celeba"}}}
    config = write_config(tmp_path / "changed.yaml", changed)
    plan = planned_rules(workdir, "--configfile", str(config))
    assert plan == {
        "features": 2, "train": 6, "model": 3, "table": 1, "metrics": 1, "spectra": 1, "rejects": 1,
        "robustness_repeat": 2, "robustness_table": 1, "cross_source": 1, "all": 1,
    }


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        ("learn/protocol.py", {"train": 6, "model": 3, "table": 1, "metrics": 1, "spectra": 1, "rejects": 1, **GENERALISATION, "all": 1}),
        ("features/fourier.py", {"features": 2, "train": 6, "model": 3, "table": 1, "metrics": 1, "spectra": 1, "rejects": 1, **GENERALISATION, "all": 1}),
        ("features/spectrum.py", {"features": 2, "train": 6, "model": 3, "table": 1, "metrics": 1, "spectra": 1, "rejects": 1, **GENERALISATION, "all": 1}),
        ("analyses/report.py", {"table": 1, "metrics": 1, "spectra": 1, "rejects": 1, "robustness_repeat": 2, "robustness_table": 1, "cross_source": 1, "all": 1}),
        ("analyses/robustness.py", {"robustness_repeat": 2, "robustness_table": 1, "all": 1}),
        ("analyses/generalisation.py", {"cross_source": 1, "all": 1}),  # robustness draws with learn/protocol.py
        ("commands/train.py", {"train": 6, "table": 1, "metrics": 1, "all": 1}),
    ],
)
def test_editing_a_stage_reruns_it_and_what_follows(demo_run, module, expected):
    workdir, config = demo_run
    path = workdir / "unmask" / module
    original = path.read_text()
    try:
        path.write_text(original + "\n# an edit\n")
        assert planned_rules(workdir, "--configfile", str(config)) == expected
    finally:
        path.write_text(original)


def test_rerun_after_change_keeps_features(demo_run, tmp_path):
    workdir, config = demo_run
    shard = workdir / "results/demo/features/faces_hq/shard-0.parquet"
    before = shard.stat().st_mtime_ns
    changed = {"datasets": {"demo": {**SMALL_DEMO["datasets"]["demo"], "repeats": 2}}}
    try:
        snakemake(workdir, "--configfile", str(write_config(tmp_path / "changed.yaml", changed)))
        runs = pq.read_table(workdir / "results/demo/runs/kmeans/n20.parquet")
        assert runs.num_rows == 2
        assert shard.stat().st_mtime_ns == before
    finally:
        snakemake(workdir, "--configfile", str(config))  # the shared demo run as other tests expect it


def test_report_gathers_figures_and_tables(demo_run):
    workdir, config = demo_run
    snakemake(workdir, "--report", "results/report.html", "--configfile", str(config))
    html = (workdir / "results/report.html").read_text()
    for name in ("accuracy.png", "spectra.png", "demo_table.csv", "metrics.csv", "format_audit.csv", "svm.calibration.csv"):
        assert name in html, name
    assert "fake sources dashed" in html, "figures carry their captions"
