"""The protocol's pieces, the accuracy table, and the `unmask spectrum` command."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from unmask.analyses.tables import accuracy_table
from unmask.features import spectrum
from unmask.features.extract import FEATURES_SCHEMA, vectors_to_arrow
from unmask.learn.classifiers import make_classifier
from unmask.learn.protocol import Dataset, Protocol, balanced_sample, fit_and_score, load_features, run_repeats, split


class FixedClusters:
    """A stand-in for KMeans that returns given clusters and centroid distances."""

    def __init__(self, clusters):
        self.clusters = np.asarray(clusters)

    def fit(self, X, y=None):
        return self

    def predict(self, X):
        return self.clusters

    def transform(self, X):
        return np.stack([self.clusters, 1 - self.clusters], axis=1).astype(float)  # near the own centroid


@pytest.mark.parametrize(
    ("clusters", "accuracy"),
    [([1, 1, 1, 0, 0], 1.0), ([0, 0, 1, 1, 1], 0.8), ([1, 1, 0, 0, 0], 0.8)],
)
def test_kmeans_takes_the_better_cluster_to_label_assignment(clusters, accuracy):
    y = np.array([0, 0, 0, 1, 1])
    predicted, score = fit_and_score(FixedClusters(clusters), "kmeans", None, None, None, y)
    assert np.mean(predicted == y) == pytest.approx(accuracy)
    assert np.array_equal(score > 0, predicted == 1), "a higher score means fake"


def test_split_keeps_each_group_on_one_side():
    y = np.repeat([0, 1], 50)
    groups = np.array([f"video{i // 5}" for i in range(100)], dtype=object)
    train, test = split(np.arange(100), y, groups, 0.2, seed=0)
    assert not set(groups[train]) & set(groups[test])
    assert set(y[test]) == {0, 1} and 15 <= len(test) <= 25


def test_each_fold_is_as_likely_to_be_tested_so_a_big_video_is_not_always_held_out():
    """StratifiedGroupKFold places the groups with the most items first, into its first fold: testing the first
    fold held the biggest video out of training in nearly every repeat, and tested twice the test fraction."""
    sizes = {"big": 40, **{f"real{i}": 2 for i in range(10)}, **{f"fake{i}": 3 for i in range(20)}}
    groups = np.array([name for name, size in sizes.items() for _ in range(size)], dtype=object)
    y = np.array([0] * 60 + [1] * 60)
    tests = [split(np.arange(120), y, groups, 0.2, seed)[1] for seed in range(200)]
    assert 0.1 <= np.mean(["big" in set(groups[test]) for test in tests]) <= 0.3, "about one repeat in 5 folds"
    assert np.mean([len(test) for test in tests]) / 120 == pytest.approx(0.2, abs=0.03)


def test_balanced_sample():
    y = np.array([0] * 10 + [1] * 6)
    index = balanced_sample(y, 9, np.random.default_rng(0))
    assert sorted(np.bincount(y[index])) == [4, 5]
    with pytest.raises(ValueError, match="14 samples need 7 fake images, but only 6 are usable"):
        balanced_sample(y, 14, np.random.default_rng(0))


def test_a_size_larger_than_the_data_says_which_sizes_fit():
    y = np.array([0] * 10 + [1] * 6)
    with pytest.raises(ValueError, match=r"the largest balanced sample is 12: set `sizes` to at most 12, or `all`"):
        balanced_sample(y, 14, np.random.default_rng(0))


def separable(n=60, length=20):
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], n // 2).astype(np.int8)
    X = rng.normal(size=(n, length)) + 6.0 * y[:, None]
    ids = np.arange(n).astype(str).astype(object)
    return Dataset(
        X=X, y=y, ids=ids, sources=np.where(y, "gan", "cam").astype(object), groups=ids, videos=np.full(n, None)
    )


@pytest.mark.parametrize("spec", [{"kind": "svm", "kernel": "linear"}, {"kind": "logreg"}, {"kind": "kmeans"}])
def test_every_classifier_separates_separable_data(spec):
    runs, predictions = run_repeats(separable(), spec["kind"], spec, 40, Protocol("sample_split", 3, 0.25, 0))
    assert runs.column("accuracy").to_pylist() == [1.0, 1.0, 1.0]
    assert runs.column("n_test").to_pylist() == [10, 10, 10]
    frame = predictions.to_pandas()
    assert len(frame) == 30 and (frame["predicted"] == frame["label"]).all()
    assert ((frame["score"] > 0) == (frame["label"] == 1)).all(), "scores rank fakes above reals"


def test_repeats_are_reproducible_and_differ_from_each_other():
    data = separable(80, 5)
    data = Dataset(
        np.random.default_rng(2).normal(size=(80, 5)), data.y, data.ids, data.sources, data.groups, data.videos
    )
    protocol = Protocol("sample_split", 4, 0.2, 3)
    first = run_repeats(data, "svm", {"kind": "svm"}, 40, protocol)[0].column("accuracy").to_pylist()
    assert first == run_repeats(data, "svm", {"kind": "svm"}, 40, protocol)[0].column("accuracy").to_pylist()
    assert len(set(first)) > 1


def test_spectra_of_different_lengths_ask_for_spectrum_length(tmp_path):
    table = pa.table(
        {
            "id": ["a", "b"],
            "label": pa.array([0, 1], pa.int8()),
            "source": ["s", "t"],
            "group": ["a", "b"],
            "video": [None, None],
            "features": vectors_to_arrow([np.ones(5), np.ones(7)]),
            "reason": [None, None],
        },
        schema=FEATURES_SCHEMA,
    )
    pq.write_table(table, tmp_path / "shard.parquet")
    with pytest.raises(ValueError, match="spectrum_length"):
        load_features([tmp_path / "shard.parquet"])


def test_accuracy_table_layout():
    runs = pd.DataFrame(
        {
            "classifier": ["svm", "svm", "kmeans", "kmeans"] * 2,
            "samples": [20] * 4 + [100] * 4,
            "repeat": [0, 1] * 4,
            "accuracy": [1.0, 0.5, 0.75, 0.25, 1.0, 1.0, 0.5, 0.5],
        }
    )
    table = accuracy_table(runs, ["svm", "kmeans"])
    assert list(table.columns) == ["samples", "svm", "kmeans", "svm_std", "kmeans_std"]
    assert table["samples"].tolist() == ["100", "20"]  # as configured: numbers or "all"
    assert table.iloc[1][["svm", "kmeans"]].tolist() == [0.75, 0.5]
    np.testing.assert_allclose(table.iloc[1][["svm_std", "kmeans_std"]].tolist(), [np.sqrt(0.125)] * 2)  # ddof 1


def test_spectrum_command_prints_csv_and_reports_bad_files(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    good = tmp_path / "good.png"
    cv2.imwrite(str(good), image)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    result = subprocess.run(
        [sys.executable, "-m", "unmask", "spectrum", str(good), str(bad), "--variant", "celeba"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    header, row = result.stdout.strip().splitlines()
    assert header == "file," + ",".join(f"f{i:03d}" for i in range(80))
    values = np.array(row.split(",")[1:], dtype=float)
    np.testing.assert_array_equal(values, spectrum.features(image, "celeba"))
    assert f"{bad}: not a readable image" in result.stderr


def test_liblinear_solves_the_same_linear_svm_as_libsvm():
    data = separable(400, 30)
    X = data.X + np.random.default_rng(5).normal(scale=4.0, size=data.X.shape)  # overlapping classes
    spec = {"kind": "svm", "kernel": "linear", "C": 1.0, "standardise": True, "liblinear_above": 100}
    libsvm, solver_small = make_classifier(spec, seed=0, n_train=50)
    liblinear, solver_large = make_classifier(spec, seed=0, n_train=400)
    assert (solver_small, solver_large) == ("standardised libsvm", "standardised liblinear")
    agreement = np.mean(libsvm.fit(X, data.y).predict(X) == liblinear.fit(X, data.y).predict(X))
    assert agreement >= 0.97
    assert abs(libsvm.score(X, data.y) - liblinear.score(X, data.y)) <= 0.02


def test_size_all_takes_the_largest_balanced_sample():
    data = separable(60, 5)
    runs, _ = run_repeats(data, "logreg", {"kind": "logreg"}, "all", Protocol("sample_split", 2, 0.25, 0))
    assert runs.column("samples").to_pylist() == ["all", "all"] and runs.column("n_samples").to_pylist() == [60, 60]


def test_held_out_videos_protocol_trains_on_size_and_tests_on_whole_videos():
    n = 120
    y = np.repeat([0, 1], n // 2).astype(np.int8)
    X = np.random.default_rng(3).normal(size=(n, 4)) + 3.0 * y[:, None]
    groups = np.array([f"video{i // 10}" for i in range(n)], dtype=object)
    data = Dataset(
        X, y, np.arange(n).astype(str).astype(object), np.where(y, "gan", "cam").astype(object), groups, groups
    )
    protocol = Protocol("held_out_videos", 3, 0.25, 0)
    runs, predictions = run_repeats(data, "logreg", {"kind": "logreg"}, 20, protocol)
    assert runs.column("n_train").to_pylist() == [20, 20, 20]
    frame = predictions.to_pandas()
    assert frame.groupby(["repeat", "video"]).size().eq(10).all(), "every frame of a held-out video is tested"
    for repeat, tested in frame.groupby("repeat"):
        assert len(tested) == runs.column("n_test").to_pylist()[repeat]
