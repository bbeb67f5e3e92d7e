"""Tables and figures: the paper's accuracy table, spectra per source, accuracy vs samples, rejects."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from unmask.experiments import load_features  # noqa: E402
from unmask.io import atomic_output  # noqa: E402


def read_runs(paths: list[str | Path]) -> pd.DataFrame:
    """Per-repeat results of every classifier and size."""
    return pd.concat([pq.read_table(p).to_pandas() for p in paths], ignore_index=True)


def accuracy_table(runs: pd.DataFrame, classifiers: list[str]) -> pd.DataFrame:
    """The paper's layout: ``samples``, one mean-accuracy column per classifier, then ``<classifier>_std``."""
    grouped = runs.groupby(["samples", "classifier"])["accuracy"]
    mean = grouped.mean().unstack("classifier")[classifiers]
    std = grouped.std(ddof=0).unstack("classifier")[classifiers].add_suffix("_std")
    table = pd.concat([mean, std], axis=1).sort_index(ascending=False)
    return table.reset_index()


def write_csv(frame: pd.DataFrame, path: str | Path) -> None:
    """Write a CSV atomically."""
    with atomic_output(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")


def _save(figure: plt.Figure, path: str | Path) -> None:
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)


def plot_spectra(shards: list[str | Path], path: str | Path, title: str) -> None:
    """Mean +- std 1-D power spectrum per source (the paper's spectra plot), real solid, fake dashed."""
    data = load_features(shards)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for source in sorted(set(data.sources)):
        rows = data.sources == source
        mean, std = data.X[rows].mean(axis=0), data.X[rows].std(axis=0)
        fake = bool(data.y[rows][0])
        x = np.arange(len(mean))
        (line,) = axes.plot(x, mean, linestyle="--" if fake else "-", label=f"{source} ({'fake' if fake else 'real'}, n={rows.sum()})")
        axes.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.15)
    axes.set(xlabel="spatial frequency (ring index)", ylabel="power spectrum", title=f"{title}: mean ± std per source")
    axes.legend(fontsize=8)
    _save(figure, path)


def plot_accuracy(table: pd.DataFrame, classifiers: list[str], path: str | Path, title: str) -> None:
    """Mean test accuracy (± std over repeats) against the number of samples, one line per classifier."""
    figure, axes = plt.subplots(figsize=(6, 4))
    ordered = table.sort_values("samples")
    for name in classifiers:
        axes.errorbar(ordered["samples"], ordered[name], yerr=ordered[f"{name}_std"], marker="o", capsize=3, label=name)
    axes.set_xscale("log")
    axes.set_xticks(ordered["samples"], [str(n) for n in ordered["samples"]])
    axes.minorticks_off()
    axes.set(xlabel="number of samples (both classes)", ylabel="test accuracy", ylim=(0, 1.05), title=title)
    axes.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    axes.legend()
    _save(figure, path)


def collect_rejects(manifest: str | Path, manifest_rejects: str | Path, shards: list[str | Path]) -> pd.DataFrame:
    """Every rejected file with the stage and reason: from the manifest and from feature extraction."""
    columns = ["id", "path", "source", "stage", "reason"]
    paths = pq.read_table(manifest, columns=["id", "path"]).to_pandas()
    decoded = pd.concat([pq.read_table(s, columns=["id", "source", "reason"]).to_pandas() for s in shards])
    decoded = decoded[decoded["reason"].notna()].merge(paths, on="id").assign(stage="features")
    rejects = pd.concat([pq.read_table(manifest_rejects).to_pandas(), decoded[columns]], ignore_index=True)
    return rejects[columns].sort_values("id", kind="stable")
