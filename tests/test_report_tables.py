"""The table, metrics.csv, the table's .json and the video vote table as units."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from unmask.analyses.tables import accuracy_table, metrics_table, video_table, video_verdicts, write_table_metadata
from unmask.io import write_csv
from unmask.learn.protocol import Dataset, Protocol, run_repeats

CLASSIFIERS = {"svm": {"kind": "svm"}, "logreg": {"kind": "logreg"}}


def overlapping(n=120, length=6) -> Dataset:
    """Two overlapping classes, so accuracies vary between repeats."""
    rng = np.random.default_rng(4)
    y = np.repeat([0, 1], n // 2).astype(np.int8)
    X = rng.normal(size=(n, length)) + 0.8 * y[:, None]
    ids = np.array([f"i{i}" for i in range(n)], dtype=object)
    return Dataset(X, y, ids, np.where(y, "gan", "cam").astype(object), ids, np.full(n, None, dtype=object))


@pytest.fixture(scope="module")
def runs_and_predictions():
    data, runs, predictions = overlapping(), [], []
    for name, spec in CLASSIFIERS.items():
        for size in (40, "all"):
            run, predicted = run_repeats(data, name, spec, size, Protocol("sample_split", 4, 0.25, 7))
            runs.append(run.to_pandas())
            predictions.append(predicted.to_pandas())
    return pd.concat(runs, ignore_index=True), pd.concat(predictions, ignore_index=True)


def test_table_and_metrics_agree_to_the_last_digit(runs_and_predictions, tmp_path):
    runs, predictions = runs_and_predictions
    write_csv(accuracy_table(runs, list(CLASSIFIERS)), tmp_path / "table.csv")
    write_csv(metrics_table(predictions, "toy"), tmp_path / "metrics.csv")
    table = pd.read_csv(tmp_path / "table.csv", dtype=str).set_index("samples")
    metrics = pd.read_csv(tmp_path / "metrics.csv", dtype=str)
    accuracy = metrics[metrics["metric"] == "accuracy"].set_index(["classifier", "samples"])
    for name in CLASSIFIERS:
        for samples in ("40", "all"):
            assert table.loc[samples, name] == accuracy.loc[(name, samples), "mean"]
            assert table.loc[samples, f"{name}_std"] == accuracy.loc[(name, samples), "std"]
    assert len(set(runs["accuracy"])) > 2, "the repeats differ, so the std is not trivially 0"


def test_table_std_is_the_sample_std():
    runs = pd.DataFrame(
        {"classifier": ["svm"] * 3, "samples": [20] * 3, "repeat": [0, 1, 2], "accuracy": [0.5, 0.75, 1.0]}
    )
    table = accuracy_table(runs, ["svm"])
    assert table["svm"].iloc[0] == 0.75 and table["svm_std"].iloc[0] == pytest.approx(0.25)  # ddof 0 gives 0.204


def test_table_metadata(runs_and_predictions, tmp_path):
    runs, _ = runs_and_predictions
    write_table_metadata(runs, tmp_path / "toy_table.csv")
    metadata = json.loads((tmp_path / "toy_table.json").read_text())
    assert metadata["std"] == "sample standard deviation over the repeats (ddof=1)"
    assert set(metadata["classifiers"]) == set(CLASSIFIERS)
    assert metadata["classifiers"]["svm"]["40"] == {
        "solver": "libsvm",
        "n_samples": 40,
        "n_train": 30,
        "n_test": 10,
        "repeats": 4,
    }
    assert metadata["classifiers"]["logreg"]["all"] == {
        "solver": "liblinear",
        "n_samples": 120,
        "n_train": 90,
        "n_test": 30,
        "repeats": 4,
    }


def frames(video: str, label: int, predicted: list[int], repeat: int = 0, classifier: str = "svm") -> pd.DataFrame:
    """Test frames of one video; each frame's score is its prediction shifted by its position."""
    n = len(predicted)
    return pd.DataFrame(
        {
            "classifier": classifier,
            "samples": "20",
            "repeat": repeat,
            "id": [f"{video}/{i}" for i in range(n)],
            "video": video,
            "label": label,
            "predicted": predicted,
            "score": np.array(predicted) - 0.5 + 0.01 * np.arange(n),
        }
    )


VOTES = pd.concat(
    [
        frames("fake_a", 1, [1, 1, 0]),  # 2/3 fake: fake
        frames("real_b", 0, [1, 1, 0, 0]),  # 1/2 fake: fake at threshold 0.5, real at 0.6
        frames("real_c", 0, [0, 0, 1]),  # 1/3 fake: real
        frames("fake_a", 1, [0, 0, 1], repeat=1),  # 1/3 fake: real (wrong)
        frames("real_b", 0, [0, 0, 0, 0], repeat=1),
        frames("real_c", 0, [1, 1, 0], repeat=1),  # 2/3 fake: fake (wrong)
    ],
    ignore_index=True,
)


def test_video_verdicts_are_majority_votes():
    verdicts = video_verdicts(VOTES, 0.5).set_index(["repeat", "video"])
    assert verdicts["verdict"].to_dict() == {
        (0, "fake_a"): 1,
        (0, "real_b"): 1,
        (0, "real_c"): 0,
        (1, "fake_a"): 0,
        (1, "real_b"): 0,
        (1, "real_c"): 1,
    }
    assert verdicts.loc[(0, "fake_a"), "fake_votes"] == pytest.approx(2 / 3)
    assert verdicts.loc[(0, "real_b"), "label"] == 0
    assert video_verdicts(VOTES, 0.6).set_index(["repeat", "video"]).loc[(0, "real_b"), "verdict"] == 0


def test_video_table_scores_the_votes():
    table = video_table(VOTES, ["svm"], 0.5)
    assert list(table.columns) == ["samples", "svm", "svm_std", "svm_auc"]
    # Repeat 0: fake_a right, real_b wrong, real_c right (2/3); repeat 1: only real_b right (1/3).
    assert table["svm"].iloc[0] == pytest.approx(0.5) and table["svm_std"].iloc[0] == pytest.approx(np.sqrt(2) / 6)
    # Mean frame scores: repeat 0 ranks fake_a (0.177) above real_b (0.015) and real_c (-0.157): AUC 1;
    # repeat 1: fake_a (-0.157) above real_b (-0.485), below real_c (0.177): AUC 0.5.
    assert table["svm_auc"].iloc[0] == pytest.approx(0.75)
    assert video_table(VOTES, ["svm"], 0.6)["svm"].iloc[0] == pytest.approx(2 / 3)  # real_b turns real
