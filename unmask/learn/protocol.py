"""The protocol: the one draw of a repeat, fit and score, and the summary over repeats.

Used by the paper table (``run_repeats``), robustness and cross-source: repeat
``r`` at size ``n`` draws its sample and split, and its model seed, from the
seed ``(seed, n, r)`` (``repeat_draw``), so every analysis and classifier sees
the same data in the same repeat. Summaries over repeats (``summarize_rows``)
use ``metrics.summarize``: mean and sample std (ddof 1).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

logger = logging.getLogger(__name__)
# LIGHT: scikit-learn and SciPy (~2.5 s of CPU to import under load) are imported where used, so that the
# workflow's DAG, which builds every job's Protocol, imports this module at the cost of what it already has.

METRICS = ("accuracy", "roc_auc")  # what robustness and generalisation tables report

PREDICTION_SCHEMA = pa.schema(
    [
        ("classifier", pa.string()),
        ("samples", pa.string()),
        ("repeat", pa.int32()),
        ("id", pa.string()),
        ("video", pa.string()),
        ("label", pa.int8()),
        ("predicted", pa.int8()),
        ("score", pa.float64()),  # higher means more likely fake
    ]
)
RUN_SCHEMA = pa.schema(
    [
        ("classifier", pa.string()),
        ("samples", pa.string()),  # as configured: a number or "all"
        ("n_samples", pa.int32()),
        ("solver", pa.string()),
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
    groups: np.ndarray  # items of one group never fall in both splits
    videos: np.ndarray  # "<source>/<video>" for face crops, None for images


def load_features(shards: list[str | Path], column: str = "features") -> Dataset:
    """Stack the accepted rows of feature shards (``column``: the features, or a family's); one spectrum length."""
    table = pa.concat_tables(pq.read_table(path) for path in shards)
    table = table.filter(table[column].is_valid())
    if table.num_rows == 0:
        raise ValueError("no usable images: every image was rejected (see the rejects file)")
    lengths = np.asarray(table[column].combine_chunks().value_lengths())
    if len(np.unique(lengths)) > 1:
        counts = dict(zip(*np.unique(lengths, return_counts=True)))
        raise ValueError(
            f"spectra of different lengths { ({int(k): int(v) for k, v in counts.items()}) }: the images have "
            "different sizes; set the dataset's spectrum_length to resample every spectrum to one length"
        )
    X = np.asarray(table[column].combine_chunks().flatten(), dtype=np.float64).reshape(table.num_rows, -1)
    sources = np.asarray(table["source"].to_pylist(), dtype=object)
    return Dataset(
        X=X,
        y=table["label"].to_numpy().astype(np.int8),
        ids=np.asarray(table["id"].to_pylist(), dtype=object),
        sources=sources,
        groups=np.asarray(table["group"].to_pylist(), dtype=object),
        videos=np.array([v and f"{s}/{v}" for s, v in zip(sources, table["video"].to_pylist())], dtype=object),
    )


def resolve_size(size: int | str, y: np.ndarray) -> int:
    """A configured size: a number of samples, or ``all`` (the largest class-balanced sample)."""
    return 2 * int(min(np.sum(y == 0), np.sum(y == 1))) if size == "all" else int(size)


def available_size(y: np.ndarray, size: int | str) -> int:
    """A configured size (a number or ``all``) capped by the largest class-balanced sample of ``y``."""
    return min(resolve_size(size, y), resolve_size("all", y))


def largest_sample(strata: np.ndarray) -> int:
    """The largest sample ``balanced_sample`` can draw over ``strata``: of each, as many as the rarest holds."""
    codes, counts = np.unique(strata, return_counts=True)
    return len(codes) * int(counts.min())


def _drawable(size: int | str, strata: np.ndarray, cap: bool) -> int:
    """``size`` items to draw over ``strata``: ``all`` is the largest sample; with ``cap`` a larger number is too."""
    if size == "all":
        return largest_sample(strata)
    return min(int(size), largest_sample(strata)) if cap else int(size)


def balanced_sample(strata: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``size`` items, as many from each stratum as can be (later strata take the remainder).

    The strata are the classes (0 real, 1 fake: the fake half takes an odd item) or, for
    cross-source, the real items and each fake source.
    """
    codes = np.unique(strata)
    chosen = []
    for i, code in enumerate(codes):
        count = size * (i + 1) // len(codes) - size * i // len(codes)
        pool = np.flatnonzero(strata == code)
        if len(pool) < count:
            name = {0: "real", 1: "fake"}.get(code, f"'{code}'")
            largest = largest_sample(strata)
            raise ValueError(
                f"{size} samples need {count} {name} images, but only {len(pool)} are usable; the largest "
                f"balanced sample is {largest}: set `sizes` to at most {largest}, or `all`"
            )
        chosen.append(rng.choice(pool, size=count, replace=False))
    return np.sort(np.concatenate(chosen))


def split(
    index: np.ndarray, y: np.ndarray, groups: np.ndarray, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/test indices; where items share groups, no group falls in both parts.

    Grouped items are split by ``StratifiedGroupKFold`` into about ``1 / test_fraction``
    folds, one of them (chosen by the seed) for testing, so the test fraction is approximate
    and coarser with few groups; it is right on average over repeats. (Not always the first fold:
    ``StratifiedGroupKFold`` fills it with the groups of the most items first, so testing it held
    the biggest video out of training in nearly every repeat.)
    """
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split  # see LIGHT

    if len(set(groups[index])) == len(index):
        train, test = train_test_split(index, test_size=test_fraction, stratify=y[index], random_state=seed)
        return train, test
    n_groups = len(set(groups[index]))
    if n_groups < 2:
        raise ValueError("the sample holds a single group (video or actor): it cannot be split without leakage")
    n_splits = min(max(2, round(1 / test_fraction)), n_groups)
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    train, test = list(folds.split(index, y[index], groups[index]))[np.random.default_rng(seed).integers(n_splits)]
    return index[train], index[test]


def _sample_split(
    data: Dataset, size: int | str, test_fraction: float, rng: np.random.Generator, strata: np.ndarray, cap: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The paper's Faces-HQ and CelebA protocol: a balanced sample of ``size`` items, ``test_fraction`` tested."""
    index = balanced_sample(strata, _drawable(size, strata, cap), rng)
    return split(index, strata, data.groups, test_fraction, seed=int(rng.integers(2**31)))


def _held_out_videos(
    data: Dataset, size: int | str, test_fraction: float, rng: np.random.Generator, strata: np.ndarray, cap: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The paper's DFD protocol: ``size`` balanced training items from the groups (videos) of the training
    part, tested on every item of the held-out groups."""
    pool, test = split(np.arange(len(data.y)), strata, data.groups, test_fraction, seed=int(rng.integers(2**31)))
    return pool[balanced_sample(strata[pool], _drawable(size, strata[pool], cap), rng)], test


@dataclass(frozen=True)
class Draw:
    """A protocol's draw of one repeat, and the size a draw had from its training and test indices (the
    sample before its split, or the training items where every item of the held-out groups is tested)."""

    draw: Callable[..., tuple[np.ndarray, np.ndarray]]
    size: Callable[[np.ndarray, np.ndarray], int]


# The protocols by name: each one entry here and one in the schema's `protocol` enum.
DRAWS = {
    "sample_split": Draw(_sample_split, lambda train, test: len(train) + len(test)),
    "held_out_videos": Draw(_held_out_videos, lambda train, test: len(train)),
}


@dataclass(frozen=True)
class Protocol:
    """How a dataset's repeats draw their items: the protocol ``name`` (a key of ``DRAWS``), the number of
    ``repeats``, the fraction of a repeat's items tested and the ``seed`` of every draw and fit.

    Built once from the validated configuration (``of``); every job receives it as one JSON argument
    (``to_json``), read back by ``from_json``.
    """

    name: str
    repeats: int
    test_fraction: float
    seed: int

    def __post_init__(self) -> None:
        if self.name not in DRAWS:
            raise ValueError(f"unknown protocol {self.name!r}: one of {', '.join(DRAWS)}")

    @classmethod
    def of(cls, dataset: Mapping[str, Any]) -> Protocol:
        """A dataset's protocol, from its validated configuration."""
        return cls(dataset["protocol"], dataset["repeats"], dataset["test_fraction"], dataset["seed"])

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Protocol:
        """A protocol from its fields (``to_json``'s keys); ``ValueError`` if one is missing or unknown."""
        fields = [field.name for field in dataclasses.fields(cls)]
        if not isinstance(values, Mapping) or sorted(values) != sorted(fields):
            raise ValueError(f"a protocol needs exactly the keys {', '.join(fields)}, not {values!r}")
        return cls(**values)

    @classmethod
    def from_json(cls, text: str) -> Protocol:
        """The protocol ``to_json`` wrote; ``ValueError`` if ``text`` is not one."""
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"the protocol is not JSON ({error}): {text!r}") from None
        return cls.from_mapping(values)

    def to_json(self) -> str:
        """The protocol as one JSON object (sorted keys), as jobs receive it."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    def drawn_size(self, train: np.ndarray, test: np.ndarray) -> int:
        """The size a draw of this protocol had (the table's ``n_samples``), from its training and test indices."""
        return DRAWS[self.name].size(train, test)


def repeat_draw(
    data: Dataset,
    size: int | str,
    repeat: int,
    protocol: Protocol,
    strata: np.ndarray | None = None,
    cap: bool = False,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Training and test indices and the model seed of repeat ``repeat`` at ``size`` items under a protocol
    (its ``DRAWS`` entry), balanced and stratified over ``strata``.

    The strata are the classes unless given (cross-source balances the real items and each fake source).
    ``size`` ``all`` is the largest balanced sample of what is drawn from (every item, or the training
    part's); with ``cap`` a larger number is reduced to it (the analyses' sizes), else it is an error (the
    paper table's sizes are what they say). The seed takes ``size``, with ``all`` as the largest sample of
    every item.
    """
    strata = data.y if strata is None else strata
    rng = np.random.default_rng([protocol.seed, _drawable(size, strata, cap=False), repeat])
    train, test = DRAWS[protocol.name].draw(data, size, protocol.test_fraction, rng, strata, cap)
    return train, test, int(rng.integers(2**31))


@dataclass(frozen=True)
class Part:
    """Features and labels of one training or test set."""

    X: np.ndarray
    y: np.ndarray

    @classmethod
    def of(cls, data: Dataset, index: np.ndarray) -> Part:
        return cls(data.X[index], data.y[index])


def fit_and_score(
    model: Any, kind: str, X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, y_test: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fit on the training part, then ``score`` on the test part."""
    from unmask.learn.classifiers import fit, score  # see LIGHT

    return score(fit(model, kind, X_train, y_train), kind, X_test, y_test)


def fit_scores(
    spec: dict[str, Any], seed: int, train: Part, tests: dict[str, Part], metrics: tuple[str, ...] = METRICS
) -> dict[str, dict[str, float]]:
    """Fit one fresh classifier of ``spec`` on ``train``; its ``metrics`` (``binary_metrics``) on each test set."""
    from unmask.learn.classifiers import fit, make_classifier, score  # see LIGHT
    from unmask.learn.metrics import binary_metrics

    model, _ = make_classifier(spec, seed, n_train=len(train.y))
    fit(model, spec["kind"], train.X, train.y)
    results = {}
    for name, test in tests.items():
        predicted, scores = score(model, spec["kind"], test.X, test.y)
        values = binary_metrics(test.y, scores, predicted)
        results[name] = {metric: values[metric] for metric in metrics}
    return results


def summarize_rows(
    rows: pd.DataFrame, keys: list[str], metrics: tuple[str, ...] = METRICS, intervals: bool = False
) -> pd.DataFrame:
    """Per-repeat rows -> long format: ``keys``, metric, mean, std (ddof 1), [ci_low, ci_high,] repeats (finite
    values only; ``intervals``: the 95% t-interval of ``metrics.summarize``)."""
    from unmask.learn.metrics import summarize  # see LIGHT

    statistics = ["mean", "std", *(["ci_low", "ci_high"] if intervals else [])]
    summary = []
    for key, group in rows.groupby(keys, dropna=False, sort=False):
        for metric in metrics:
            stats = summarize(group[metric])
            summary.append(
                {
                    **dict(zip(keys, key)),
                    "metric": metric,
                    **{name: stats[name] for name in statistics},
                    "repeats": stats["n"],
                }
            )
    return pd.DataFrame(summary, columns=[*keys, "metric", *statistics, "repeats"])


def run_repeats(
    data: Dataset, name: str, spec: dict[str, Any], size: int | str, protocol: Protocol
) -> tuple[pa.Table, pa.Table]:
    """Fit and score one classifier on fresh samples of ``size`` items, once per repeat of the protocol.

    Each repeat is ``repeat_draw``. Returns the per-repeat results and the
    per-item test predictions.
    """
    from unmask.learn.classifiers import make_classifier  # see LIGHT

    label, repeats = str(size), protocol.repeats
    rows, predictions = [], []
    for repeat in range(repeats):
        train, test, model_seed = repeat_draw(data, size, repeat, protocol)
        drawn = protocol.drawn_size(train, test)
        model, solver = make_classifier(spec, seed=model_seed, n_train=len(train))
        started = time.perf_counter()
        predicted, scores = fit_and_score(model, spec["kind"], data.X[train], data.y[train], data.X[test], data.y[test])
        elapsed = time.perf_counter() - started
        accuracy = float(np.mean(predicted == data.y[test]))
        predictions.append(
            pa.table(
                {
                    "classifier": [name] * len(test),
                    "samples": [label] * len(test),
                    "repeat": pa.array(np.full(len(test), repeat), pa.int32()),
                    "id": data.ids[test].tolist(),
                    "video": data.videos[test].tolist(),
                    "label": pa.array(data.y[test], pa.int8()),
                    "predicted": pa.array(predicted, pa.int8()),
                    "score": pa.array(scores, pa.float64()),
                },
                schema=PREDICTION_SCHEMA,
            )
        )
        rows.append(
            {
                "classifier": name,
                "samples": label,
                "n_samples": drawn,
                "solver": solver,
                "repeat": repeat,
                "n_train": len(train),
                "n_test": len(test),
                "accuracy": accuracy,
                "fit_seconds": elapsed,
            }
        )
        logger.info(f"{name} n={drawn} repeat {repeat + 1}/{repeats}: accuracy {accuracy:.3f}")
    return pa.Table.from_pylist(rows, RUN_SCHEMA), pa.concat_tables(predictions)
