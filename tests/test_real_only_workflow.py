"""A real-only classifier in the workflow (table, model file, `unmask predict`) and the leave-one-generator-out matrix."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import copy_workflow, snakemake, write_config

from unmask.learn.model_file import load_model

pytestmark = pytest.mark.workflow  # every test here runs Snakemake

SOURCES = ("photo_jpeg", "photo_png", "nearest_upsampler", "transposed_conv")  # two real, two fake sources
CONFIG = {
    "datasets": {
        "demo": {
            "sizes": [20],
            "repeats": 2,
            "shards": 1,
            "classifiers": {"logreg": {"kind": "logreg"}, "real": {"kind": "mahalanobis", "components": 4}},
            "sources": {name: {"count": 12} for name in SOURCES},
        }
    }
}
TARGETS = (
    "results/demo_table.csv",
    "results/demo/models/real.json",
    "results/demo/leave_one_out.csv",
    "results/demo/figures/leave_one_out.png",
)


@pytest.fixture(scope="module")
def real_only_run(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("real_only"))
    config = write_config(workdir / "real_only.yaml", CONFIG)
    snakemake(workdir, *TARGETS, "--configfile", str(config))
    return workdir


def test_a_real_only_classifier_trains_stores_and_predicts(real_only_run):
    workdir = real_only_run
    table = pd.read_csv(workdir / "results/demo_table.csv")
    assert list(table.columns) == ["samples", "logreg", "real", "logreg_std", "real_std"]
    assert 0 <= table["real"].iloc[0] <= 1
    model = load_model(workdir / "results/demo/models/real.json")
    assert model.kind == "mahalanobis" and model.parameters.components.shape == (4, model.feature_length)
    shard = pd.read_parquet(workdir / "results/demo/features/faces_hq/shard-0.parquet")
    manifest = pd.read_parquet(workdir / "results/demo/manifest.parquet").set_index("id")
    paths = [str(workdir / manifest.loc[item, "path"]) for item in shard["id"][:6]]
    command = [sys.executable, "-m", "unmask", "predict", "--model", str(workdir / "results/demo/models/real.json")]
    result = subprocess.run([*command, *paths], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    p_fake = [json.loads(line)["p_fake"] for line in result.stdout.splitlines()]
    np.testing.assert_allclose(p_fake, model.p_fake(np.stack(shard["features"][:6])), rtol=0, atol=1e-12)


def test_the_leave_one_out_matrix_holds_the_real_only_model_beside_the_two_class_ones(real_only_run):
    table = pd.read_csv(real_only_run / "results/demo/leave_one_out.csv")
    assert set(table["held_out_source"]) == {"nearest_upsampler", "transposed_conv"}
    assert set(table["classifier"]) == {"logreg", "real", "mahalanobis"}, "and the default real-only model"
    assert set(table["metric"]) == {"accuracy", "roc_auc", "tpr_at_fpr_1"} and (table["repeats"] == 2).all()
    assert table[["mean", "ci_low", "ci_high"]].notna().all().all()
    assert (real_only_run / "results/demo/figures/leave_one_out.png").read_bytes()[:4] == b"\x89PNG"
