"""The paper's protocol: class-balanced samples of a given size, a stratified split, repeats."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

RUN_SCHEMA = pa.schema(
    [
        ("classifier", pa.string()),
        ("samples", pa.int32()),
        ("repeat", pa.int32()),
        ("n_train", pa.int32()),
        ("n_test", pa.int32()),
        ("accuracy", pa.float64()),
        ("fit_seconds", pa.float64()),
    ]
)


@dataclass(frozen=True)
class Dataset:
    """Feature matrix and labels of the usable images of a dataset."""

    X: np.ndarray
    y: np.ndarray
    ids: np.ndarray
    sources: np.ndarray


def load_features(shards: list[str | Path]) -> Dataset:
    """Stack the accepted rows of feature shards; all spectra must have one length."""
    table = pa.concat_tables(pq.read_table(path) for path in shards)
    table = table.filter(table["features"].is_valid())
    if table.num_rows == 0:
        raise ValueError("no usable images: every image was rejected (see the rejects file)")
    lengths = np.asarray(table["features"].combine_chunks().value_lengths())
    if len(np.unique(lengths)) > 1:
        counts = dict(zip(*np.unique(lengths, return_counts=True)))
        raise ValueError(
            f"spectra of different lengths {({int(k): int(v) for k, v in counts.items()})}: the images have "
            "different sizes; set the dataset's spectrum_length to resample every spectrum to one length"
        )
    X = np.asarray(table["features"].combine_chunks().flatten(), dtype=np.float64).reshape(table.num_rows, -1)
    return Dataset(
        X=X,
        y=table["label"].to_numpy().astype(np.int8),
        ids=np.asarray(table["id"].to_pylist(), dtype=object),
        sources=np.asarray(table["source"].to_pylist(), dtype=object),
    )


def make_classifier(spec: dict, seed: int):
    """A scikit-learn estimator from a classifier spec (``kind`` plus its parameters)."""
    kind = spec["kind"]
    if kind == "svm":
        return SVC(kernel=spec.get("kernel", "linear"), C=spec.get("C", 1.0), gamma=spec.get("gamma", "scale"))
    if kind == "logreg":
        return LogisticRegression(solver="liblinear", C=spec.get("C", 1.0), max_iter=spec.get("max_iter", 1000))
    if kind == "kmeans":
        return KMeans(n_clusters=2, n_init=spec.get("n_init", 10), random_state=seed)
    raise ValueError(f"unknown classifier kind {kind!r}")


def clustering_accuracy(y_true: np.ndarray, clusters: np.ndarray) -> float:
    """Accuracy of 2 clusters under the better of the two cluster-to-label assignments."""
    agreement = float(np.mean(y_true == clusters))
    return max(agreement, 1.0 - agreement)


def balanced_sample(y: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``size`` items, half real and half fake (the fake half takes an odd one)."""
    wanted = {0: size // 2, 1: size - size // 2}
    chosen = []
    for label, count in wanted.items():
        pool = np.flatnonzero(y == label)
        if len(pool) < count:
            name = "fake" if label else "real"
            raise ValueError(f"{size} samples need {count} {name} images, but only {len(pool)} are usable")
        chosen.append(rng.choice(pool, size=count, replace=False))
    return np.sort(np.concatenate(chosen))


def run_repeats(data: Dataset, name: str, spec: dict, size: int, repeats: int, test_fraction: float, seed: int) -> pa.Table:
    """Fit and score one classifier ``repeats`` times on fresh samples of ``size`` items.

    Repeat ``r`` draws its sample and split from the seed ``(seed, size, r)``,
    so every classifier sees the same data in the same repeat.
    """
    rows = []
    for repeat in range(repeats):
        rng = np.random.default_rng([seed, size, repeat])
        index = balanced_sample(data.y, size, rng)
        train, test = train_test_split(
            index, test_size=test_fraction, stratify=data.y[index], random_state=int(rng.integers(2**31))
        )
        model = make_classifier(spec, seed=int(rng.integers(2**31)))
        started = time.perf_counter()
        if spec["kind"] == "kmeans":
            model.fit(data.X[train])
            accuracy = clustering_accuracy(data.y[test], model.predict(data.X[test]))
        else:
            model.fit(data.X[train], data.y[train])
            accuracy = float(model.score(data.X[test], data.y[test]))
        elapsed = time.perf_counter() - started
        rows.append(
            {
                "classifier": name,
                "samples": size,
                "repeat": repeat,
                "n_train": len(train),
                "n_test": len(test),
                "accuracy": accuracy,
                "fit_seconds": elapsed,
            }
        )
        print(f"{name} n={size} repeat {repeat + 1}/{repeats}: accuracy {accuracy:.3f}", file=sys.stderr)
    return pa.Table.from_pylist(rows, RUN_SCHEMA)
