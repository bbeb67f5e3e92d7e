"""Generalisation: train on one part of the data, test on another.

* cross-source: within a dataset with at least two fake sources, train on one
  fake source (+ real images) and test on the held-out images of every fake
  source, each with held-out real images; the diagonal is the within-source result.
  One ``protocol.repeat_draw`` per repeat, balanced over the real items and each fake source.
* leave-one-generator-out: within a dataset with at least two fake sources,
  train on every fake source but one (+ real images) and test on the held-out
  real images with that one source's held-out images; the same draw as cross-source.
  A real-only classifier (which needs no fakes) stands beside the two-class ones.
* cross-dataset: train on dataset A's features, test on dataset B's; both
  must have one feature variant and length. Every dataset is sampled and split
  under its protocol by ``protocol.repeat_draw`` (the paper table's draw), so
  the diagonal equals the main table at that size.

Results are tables in long format: the pair, ``classifier``, ``metric``
(accuracy, roc_auc), ``mean``, ``std`` (ddof 1) and ``repeats`` over the repeats.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from unmask.features import spectrum
from unmask.learn.protocol import (
    METRICS,
    Dataset,
    Part,
    Protocol,
    available_size,
    balanced_sample,
    fit_scores,
    largest_sample,
    load_features,
    repeat_draw,
    summarize_rows,
)

logger = logging.getLogger(__name__)


def score_tests(
    train: Part, tests: dict[str, Part], classifiers: dict[str, dict], seed: int, metrics: tuple[str, ...] = METRICS
) -> list[dict]:
    """One row per classifier and test set: fitted once on ``train``, scored on each test set."""
    return [
        {"test": test_name, "classifier": name, **values}
        for name, spec in classifiers.items()
        for test_name, values in fit_scores(spec, seed, train, tests, metrics).items()
    ]


class TooFewSources(ValueError):
    """Fewer than two fake sources have features (the others' images were all rejected)."""


def fake_sources(data: Dataset) -> list[str]:
    """The dataset's fake sources, sorted."""
    return sorted(set(data.sources[data.y == 1]))


def source_strata(data: Dataset, fakes: list[str]) -> np.ndarray:
    """0 for every real item, ``k`` for an item of the ``k``-th fake source."""
    return np.array([0 if label == 0 else 1 + fakes.index(source) for label, source in zip(data.y, data.sources)])


def source_draw(
    data: Dataset, size: int, repeat: int, protocol: Protocol
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """One ``repeat_draw`` balanced over the real items and each fake source (``size // 2`` items of each,
    before the test split, as in the paper table): training and test indices, the strata, the model seed."""
    fakes = fake_sources(data)
    strata = source_strata(data, fakes)
    train, test, model_seed = repeat_draw(data, size // 2 * (len(fakes) + 1), repeat, protocol, strata, cap=True)
    return train, test, strata, model_seed


def source_size(data: Dataset, size: int | str, analysis: str) -> int:
    """A training set's size (a number or ``all``, both classes) capped by the real items and each fake source."""
    fakes = fake_sources(data)
    if len(fakes) < 2:
        has = f"only {fakes[0]} has" if fakes else "none has"
        raise TooFewSources(f"{analysis} needs two fake sources with usable images; {has} any (rejects.csv says why)")
    smallest = int(np.bincount(source_strata(data, fakes)).min())
    return 2 * min(available_size(data.y, size) // 2, smallest)


def cross_source_draw(data: Dataset, size: int, repeat: int, protocol: Protocol) -> tuple[dict, dict, int]:
    """One repeat's training and test indices per fake source, and its model seed.

    One ``source_draw``: the training set of a source is its training items with the real ones,
    every test set the held-out real items with one source's held-out items.
    """
    fakes = fake_sources(data)
    train, test, strata, model_seed = source_draw(data, size, repeat, protocol)

    def by_source(index: np.ndarray) -> dict[str, np.ndarray]:
        return {source: index[np.isin(strata[index], (0, k))] for k, source in enumerate(fakes, start=1)}

    return by_source(train), by_source(test), model_seed


def cross_source_repeat(
    data: Dataset,
    classifiers: dict[str, dict],
    size: int,
    repeat: int,
    protocol: Protocol,
) -> list[dict]:
    """One repeat: train on each fake source, test on each."""
    trains, tests, model_seed = cross_source_draw(data, size, repeat, protocol)
    test_parts = {source: Part.of(data, index) for source, index in tests.items()}
    rows = []
    for source, index in trains.items():
        scored = score_tests(Part.of(data, index), test_parts, classifiers, model_seed)
        rows += [
            {"train_source": source, "test_source": (test := row.pop("test")), "repeat": repeat, **row}
            | {"n_train": len(index), "n_test": len(tests[test])}
            for row in scored
        ]
    return rows


def cross_source_table(
    data: Dataset,
    classifiers: dict[str, dict],
    size: int | str,
    protocol: Protocol,
) -> pd.DataFrame:
    """Cross-source generalisation of a dataset: train_source, test_source, classifier, metric, mean, std, repeats,
    and the images each cell used (``n_train``, ``n_test``: their mean over the repeats, rounded).

    ``size`` (a number or ``all``) is each training source's sample, both classes together, before
    the test split; it is capped by the smallest of the real items and the fake sources.
    """
    asked, size, rows = size, source_size(data, size, "cross-source generalisation"), []
    logger.info(f"cross-source: {size} items per training source before the test split (size asked: {asked})")
    for repeat in range(protocol.repeats):
        rows += cross_source_repeat(data, classifiers, size, repeat, protocol)
        logger.info(f"cross-source repeat {repeat + 1}/{protocol.repeats} done")
    keys = ["train_source", "test_source", "classifier"]
    rows = pd.DataFrame(rows)
    counts = rows.groupby(keys, sort=False)[["n_train", "n_test"]].mean().round().astype(int).reset_index()
    return summarize_rows(rows, keys).merge(counts, on=keys, how="left")


LEAVE_ONE_OUT_METRICS = ("accuracy", "roc_auc", "tpr_at_fpr_1")


def leave_one_out_draw(data: Dataset, size: int, repeat: int, protocol: Protocol) -> tuple[dict, dict, int]:
    """One repeat's training and test indices per held-out fake source, and its model seed.

    One ``source_draw`` (cross-source's): the test set of a held-out source is the held-out real items with
    its own held-out items; its training set the real training items with as many training items of the
    other fake sources, balanced over them (a seeded choice), so that it has the classes and the size of a
    cross-source training set (an item fewer where the stratified split left a source short).
    """
    train, test, strata, model_seed = source_draw(data, size, repeat, protocol)
    rng, real = np.random.default_rng(model_seed), train[strata[train] == 0]
    trains, tests = {}, {}
    for k, source in enumerate(fake_sources(data), start=1):
        others = train[~np.isin(strata[train], (0, k))]
        count = min(len(real), largest_sample(strata[others]))  # the split may leave a source an item short
        trains[source] = np.sort(np.concatenate([real, others[balanced_sample(strata[others], count, rng)]]))
        tests[source] = test[np.isin(strata[test], (0, k))]
    return trains, tests, model_seed


def leave_one_out_table(
    data: Dataset,
    classifiers: dict[str, dict],
    size: int | str,
    protocol: Protocol,
) -> pd.DataFrame:
    """Leave-one-generator-out: held_out_source, classifier, metric, mean, std, ci_low, ci_high, repeats.

    ``size`` is each training set's sample, as in ``cross_source_table``. The metrics are accuracy, ROC AUC
    and the TPR at 1% FPR (``metrics.binary_metrics``), with 95% t-intervals over the repeats.
    """
    size, rows = source_size(data, size, "leave-one-generator-out"), []
    for repeat in range(protocol.repeats):
        trains, tests, model_seed = leave_one_out_draw(data, size, repeat, protocol)
        for source, index in trains.items():
            test = {source: Part.of(data, tests[source])}
            scored = score_tests(Part.of(data, index), test, classifiers, model_seed, LEAVE_ONE_OUT_METRICS)
            rows += [{"held_out_source": row.pop("test"), "repeat": repeat, **row} for row in scored]
        logger.info(f"leave-one-generator-out repeat {repeat + 1}/{protocol.repeats} done")
    return summarize_rows(pd.DataFrame(rows), ["held_out_source", "classifier"], LEAVE_ONE_OUT_METRICS, intervals=True)


@dataclass(frozen=True)
class Member:
    """A dataset of a cross-dataset comparison with its protocol settings."""

    data: Dataset
    variant: str
    classifiers: dict[str, dict]
    size: int | str
    protocol: Protocol

    def draw(self, repeat: int) -> tuple[np.ndarray, np.ndarray, int]:
        size = available_size(self.data.y, self.size)
        return repeat_draw(self.data, size, repeat, self.protocol, cap=True)


def load_members(spec: dict[str, dict]) -> dict[str, Member]:
    """Members from ``{name: {features: [shards], variant, classifiers, size, protocol}}`` (``protocol`` as
    ``Protocol.to_json`` writes it)."""
    members = {}
    for name, entry in spec.items():
        settings = {key: value for key, value in entry.items() if key not in ("features", "protocol")}
        members[name] = Member(
            load_features(entry["features"]), protocol=Protocol.from_mapping(entry["protocol"]), **settings
        )
    return members


def cross_dataset_table(members: dict[str, Member]) -> pd.DataFrame:
    """Train on each dataset's training part, test on every dataset's test part, with each dataset's classifiers."""
    spectrum.check_compatible({name: (m.variant, m.data.X.shape[1]) for name, m in members.items()})
    rows = []
    for repeat in range(max(m.protocol.repeats for m in members.values())):
        splits = {name: m.draw(repeat) for name, m in members.items()}
        tests = {name: Part.of(m.data, splits[name][1]) for name, m in members.items()}
        for name, member in members.items():
            if repeat < member.protocol.repeats:
                train, _, model_seed = splits[name]
                scored = score_tests(Part.of(member.data, train), tests, member.classifiers, model_seed)
                rows += [
                    {"train_dataset": name, "test_dataset": row.pop("test"), "repeat": repeat, **row} for row in scored
                ]
        logger.info(f"cross-dataset repeat {repeat + 1} done")
    return summarize_rows(pd.DataFrame(rows), ["train_dataset", "test_dataset", "classifier"])
