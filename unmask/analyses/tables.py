"""Tables: the paper's accuracy table and its metadata, metrics over repeats, video verdicts, rejects."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sklearn.metrics import roc_auc_score

from unmask.io import write_text
from unmask.learn.metrics import STD, binary_metrics, summarize, summarize_repeats
from unmask.learn.protocol import summarize_rows

ROBUSTNESS_KEYS = ["classifier", "perturbation", "kind", "strength", "protocol", "samples"]


def read_runs(paths: list[str | Path]) -> pd.DataFrame:
    """Per-repeat results of every classifier and size."""
    return pd.concat([pq.read_table(p).to_pandas() for p in paths], ignore_index=True)


def accuracy_table(runs: pd.DataFrame, classifiers: list[str]) -> pd.DataFrame:
    """The paper's layout: ``samples``, one mean-accuracy column per classifier, then ``<classifier>_std``.

    Mean and std are ``metrics.summarize`` over the repeats (sample std, ddof 1), as in ``metrics.csv``.
    """
    runs = runs.assign(samples=runs["samples"].astype(str)).sort_values(
        ["samples", "classifier", "repeat"], kind="stable"
    )
    summary = pd.DataFrame(
        [
            {"samples": samples, "classifier": name, **summarize(group["accuracy"])}
            for (samples, name), group in runs.groupby(["samples", "classifier"], sort=False)
        ]
    )
    mean = summary.pivot(index="samples", columns="classifier", values="mean")[classifiers]
    std = summary.pivot(index="samples", columns="classifier", values="std")[classifiers].add_suffix("_std")
    table = pd.concat([mean, std], axis=1).rename_axis(columns=None)
    return table.sort_index(key=lambda sizes: sizes.map(_size_order), ascending=False).reset_index()


def _size_order(samples: str) -> float:
    """Sort key of a configured size: a number, or ``all`` (largest)."""
    return float("inf") if samples == "all" else float(samples)


def metrics_table(predictions: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Every metric of every fit, summarised over repeats, in long format.

    Columns: dataset, classifier, samples, metric, mean, std (over repeats),
    ci_low, ci_high (95% t-interval) and repeats (the finite values behind them).
    """
    rows = []
    for (classifier, samples), runs in predictions.groupby(["classifier", "samples"], sort=False):
        per_repeat = [binary_metrics(r["label"], r["score"], r["predicted"]) for _, r in runs.groupby("repeat")]
        for metric, summary in summarize_repeats(per_repeat).items():
            rows.append({"dataset": dataset, "classifier": classifier, "samples": samples, "metric": metric, **summary})
    return pd.DataFrame(rows).rename(columns={"n": "repeats"})


def video_verdicts(predictions: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Per video of each test set: the majority vote and the mean frame score.

    A video is called fake when at least ``threshold`` of its test frames are
    predicted fake.
    """
    keys = ["classifier", "samples", "repeat", "video"]
    videos = predictions.groupby(keys).agg(
        label=("label", "first"), fake_votes=("predicted", "mean"), score=("score", "mean")
    )
    videos["verdict"] = (videos["fake_votes"] >= threshold).astype(int)
    return videos.reset_index()


def _auc(labels: pd.Series, scores: pd.Series) -> float:
    return roc_auc_score(labels, scores) if labels.nunique() == 2 else np.nan


def video_table(predictions: pd.DataFrame, classifiers: list[str], threshold: float) -> pd.DataFrame:
    """Video-level accuracy by majority vote, in the paper's layout, plus ``<classifier>_auc`` from mean frame scores."""
    videos = video_verdicts(predictions, threshold)
    per_repeat = videos.groupby(["samples", "classifier", "repeat"]).apply(
        lambda v: pd.Series({"accuracy": (v["verdict"] == v["label"]).mean(), "auc": _auc(v["label"], v["score"])}),
        include_groups=False,
    )
    table = accuracy_table(per_repeat.reset_index(), classifiers)
    auc = (
        per_repeat.groupby(["samples", "classifier"])["auc"]
        .mean()
        .unstack("classifier")[classifiers]
        .add_suffix("_auc")
    )
    return table.merge(auc.reset_index(), on="samples")


def write_table_metadata(runs: pd.DataFrame, table: str | Path) -> None:
    """``<table>.json`` beside a table: what its std is, and per classifier and size the solver used and the items behind each mean."""
    facts = runs.groupby(["classifier", "samples"]).agg(
        solver=("solver", "first"),
        n_samples=("n_samples", "first"),
        n_train=("n_train", "first"),
        n_test=("n_test", "first"),
        repeats=("repeat", "count"),
    )
    classifiers = {
        name: {
            str(samples): {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for (_, samples), row in group.iterrows()
        }
        for name, group in facts.groupby(level="classifier")
    }
    metadata = {"std": STD, "classifiers": classifiers}
    write_text(Path(table).with_suffix(".json"), json.dumps(metadata, indent=2, sort_keys=True) + "\n")


def collect_rejects(manifest: str | Path, manifest_rejects: str | Path, shards: list[str | Path]) -> pd.DataFrame:
    """Every rejected file with the stage and reason: from the manifest and from feature extraction."""
    columns = ["id", "path", "source", "stage", "reason"]
    paths = pq.read_table(manifest, columns=["id", "path"]).to_pandas()
    decoded = pd.concat([pq.read_table(s, columns=["id", "source", "reason"]).to_pandas() for s in shards])
    decoded = decoded[decoded["reason"].notna()].merge(paths, on="id").assign(stage="features")
    rejects = pd.concat([pq.read_table(manifest_rejects).to_pandas(), decoded[columns]], ignore_index=True)
    return rejects[columns].sort_values("id", kind="stable")


def robustness_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Robustness repeats -> classifier, perturbation, kind, strength, protocol, samples, metric, mean, std, repeats."""
    return summarize_rows(runs, ROBUSTNESS_KEYS)
