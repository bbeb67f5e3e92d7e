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

from unmask import spectrum
from unmask.experiments import Dataset, balanced_sample, clustering_accuracy, load_features, run_repeats
from unmask.features import FEATURES_SCHEMA, vectors_to_arrow
from unmask.report import accuracy_table


def test_clustering_accuracy_takes_the_better_assignment():
    y = np.array([0, 0, 0, 1, 1])
    assert clustering_accuracy(y, np.array([1, 1, 1, 0, 0])) == 1.0
    assert clustering_accuracy(y, np.array([0, 0, 1, 1, 1])) == pytest.approx(0.8)
    assert clustering_accuracy(y, np.array([1, 1, 0, 0, 0])) == pytest.approx(0.8)


def test_balanced_sample():
    y = np.array([0] * 10 + [1] * 6)
    index = balanced_sample(y, 9, np.random.default_rng(0))
    assert sorted(np.bincount(y[index])) == [4, 5]
    with pytest.raises(ValueError, match="14 samples need 7 fake images, but only 6 are usable"):
        balanced_sample(y, 14, np.random.default_rng(0))


def separable(n=60, length=20):
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], n // 2).astype(np.int8)
    X = rng.normal(size=(n, length)) + 6.0 * y[:, None]
    return Dataset(X=X, y=y, ids=np.arange(n).astype(str).astype(object), sources=np.where(y, "gan", "cam").astype(object))


@pytest.mark.parametrize("spec", [{"kind": "svm", "kernel": "linear"}, {"kind": "logreg"}, {"kind": "kmeans"}])
def test_every_classifier_separates_separable_data(spec):
    runs = run_repeats(separable(), spec["kind"], spec, size=40, repeats=3, test_fraction=0.25, seed=0)
    assert runs.column("accuracy").to_pylist() == [1.0, 1.0, 1.0]
    assert runs.column("n_test").to_pylist() == [10, 10, 10]


def test_repeats_are_reproducible_and_differ_from_each_other():
    data = Dataset(X=np.random.default_rng(2).normal(size=(80, 5)), y=np.repeat([0, 1], 40).astype(np.int8), ids=None, sources=None)
    first = run_repeats(data, "svm", {"kind": "svm"}, 40, 4, 0.2, seed=3).column("accuracy").to_pylist()
    assert first == run_repeats(data, "svm", {"kind": "svm"}, 40, 4, 0.2, seed=3).column("accuracy").to_pylist()
    assert len(set(first)) > 1


def test_spectra_of_different_lengths_ask_for_spectrum_length(tmp_path):
    table = pa.table(
        {
            "id": ["a", "b"],
            "label": pa.array([0, 1], pa.int8()),
            "source": ["s", "t"],
            "group": ["a", "b"],
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
            "accuracy": [1.0, 0.5, 0.75, 0.25, 1.0, 1.0, 0.5, 0.5],
        }
    )
    table = accuracy_table(runs, ["svm", "kmeans"])
    assert list(table.columns) == ["samples", "svm", "kmeans", "svm_std", "kmeans_std"]
    assert table["samples"].tolist() == [100, 20]
    assert table.iloc[1][["svm", "kmeans", "svm_std", "kmeans_std"]].tolist() == [0.75, 0.5, 0.25, 0.25]


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
    assert f"{bad}: OpenCV cannot decode it" in result.stderr
