"""Figures: spectra per source, accuracy against samples, example crops, robustness curves, generalisation matrices."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import cv2  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from unmask.io import atomic_output  # noqa: E402
from unmask.learn.protocol import load_features  # noqa: E402

STRENGTHS = {
    "jpeg": "JPEG quality",
    "scale": "scale factor",
    "blur": "blur sigma (pixels)",
    "noise": "noise sigma (grey levels)",
}
STRONGER_WHEN_LOWER = {"jpeg", "scale"}  # a lower quality or factor is a stronger perturbation


def save_figure(figure: plt.Figure, path: str | Path) -> None:
    """Write a figure as PNG atomically and free it."""
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
        (line,) = axes.plot(
            x, mean, linestyle="--" if fake else "-", label=f"{source} ({'fake' if fake else 'real'}, n={rows.sum()})"
        )
        axes.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.15)
    axes.set(xlabel="spatial frequency (ring index)", ylabel="power spectrum", title=f"{title}: mean ± std per source")
    axes.legend(fontsize=8)
    save_figure(figure, path)


def plot_accuracy(table: pd.DataFrame, classifiers: list[str], path: str | Path, title: str) -> None:
    """Mean test accuracy (± std over repeats) against the number of samples (evenly spaced), one line per classifier."""
    figure, axes = plt.subplots(figsize=(6, 4))
    ordered = table.iloc[::-1]  # smallest size first
    positions = np.arange(len(ordered))
    for name in classifiers:
        axes.errorbar(
            positions, ordered[name], yerr=ordered[f"{name}_std"].fillna(0), marker="o", capsize=3, label=name
        )
    axes.set_xticks(positions, [str(n) for n in ordered["samples"]])
    axes.set(xlabel="number of samples (both classes)", ylabel="test accuracy", ylim=(0, 1.05), title=title)
    axes.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    axes.legend()
    save_figure(figure, path)


def plot_crops(manifest: str | Path, path: str | Path, title: str, per_class: int = 6) -> None:
    """Example face crops of each class (the first by a stable hash of their id), to check the data by eye."""
    frame = pq.read_table(manifest, columns=["id", "path", "label", "shard_key"]).to_pandas()
    figure, axes = plt.subplots(2, per_class, figsize=(1.8 * per_class, 4.2), squeeze=False)
    for row, label in enumerate((0, 1)):
        examples = frame[frame["label"] == label].sort_values("shard_key").head(per_class)
        for column, axis in enumerate(axes[row]):
            axis.axis("off")
            if column < len(examples):
                item = examples.iloc[column]
                axis.imshow(cv2.cvtColor(cv2.imread(item["path"]), cv2.COLOR_BGR2RGB))
                axis.set_title(f"{'fake' if label else 'real'}\n{item['id'][:28]}", fontsize=6)
    figure.suptitle(f"{title}: example crops (native resolution, shown scaled)")
    save_figure(figure, path)


def plot_robustness(table: pd.DataFrame, path: str | Path, title: str) -> None:
    """Accuracy against strength, one panel per kind; solid: train clean, dashed: train perturbed, dotted: clean baseline."""
    accuracy = table[table["metric"] == "accuracy"]
    perturbed = accuracy[accuracy["protocol"] != "clean"]
    kinds, classifiers = list(dict.fromkeys(perturbed["kind"])), list(dict.fromkeys(accuracy["classifier"]))
    figure, axes = plt.subplots(
        1, len(kinds), figsize=(3.6 * len(kinds), 4.6), squeeze=False, sharey=True, layout="constrained"
    )
    for axis, kind in zip(axes[0], kinds):
        for colour, classifier in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], classifiers):
            mine = accuracy[accuracy["classifier"] == classifier]
            baseline = mine.loc[mine["protocol"] == "clean", "mean"]
            axis.axhline(baseline.iloc[0], color=colour, linestyle=":", linewidth=1, label=f"{classifier}: clean")
            for protocol, style in (("train_clean", "-"), ("train_perturbed", "--")):
                rows = mine[(mine["kind"] == kind) & (mine["protocol"] == protocol)].sort_values("strength")
                axis.errorbar(
                    rows["strength"],
                    rows["mean"],
                    yerr=rows["std"].fillna(0),
                    color=colour,
                    linestyle=style,
                    marker="o",
                    markersize=3,
                    capsize=2,
                    label=f"{classifier}: {protocol}",
                )
        if kind in STRONGER_WHEN_LOWER:
            axis.invert_xaxis()
        axis.axhline(0.5, color="grey", linewidth=0.8)
        axis.set(title=kind, xlabel=f"{STRENGTHS.get(kind, kind)}, stronger →", ylim=(0, 1.05))
    axes[0][0].set_ylabel("test accuracy")
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncol=len(classifiers), fontsize=7)
    figure.suptitle(f"{title}: accuracy under perturbations of the images")
    save_figure(figure, path)


def plot_message(text: str, path: str | Path, title: str) -> None:
    """A figure holding only ``text``: what stands where an analysis could not run."""
    figure = plt.figure(figsize=(6, 1.6), layout="constrained")
    figure.text(0.5, 0.45, "\n".join(textwrap.wrap(text, 70)), ha="center", va="center", fontsize=9)
    figure.suptitle(title)
    save_figure(figure, path)


def plot_matrices(
    table: pd.DataFrame, train_key: str, test_key: str, path: str | Path, title: str, metric: str = "accuracy"
) -> None:
    """One heat-map per classifier: mean ``metric``, training set in rows, test set in columns."""
    selected = table[table["metric"] == metric]
    classifiers = list(dict.fromkeys(selected["classifier"]))
    trained, tested = list(dict.fromkeys(selected[train_key])), list(dict.fromkeys(selected[test_key]))
    size = (2.5 + (0.5 + 0.8 * len(tested)) * len(classifiers), 2.2 + 0.6 * len(trained))
    figure, axes = plt.subplots(1, len(classifiers), figsize=size, squeeze=False, sharey=True, layout="constrained")
    for axis, classifier in zip(axes[0], classifiers):
        rows = selected[selected["classifier"] == classifier]
        matrix = rows.pivot(index=train_key, columns=test_key, values="mean").reindex(index=trained, columns=tested)
        values = matrix.to_numpy(dtype=float)
        image = axis.imshow(values, vmin=0, vmax=1, cmap="viridis")
        for (i, j), value in np.ndenumerate(values):
            axis.text(
                j, i, f"{value:.2f}", ha="center", va="center", color="white" if value < 0.6 else "black", fontsize=8
            )
        axis.set_xticks(range(len(tested)), tested, rotation=30, ha="right", fontsize=8)
        axis.set_yticks(range(len(trained)), trained, fontsize=8)
        axis.set(xlabel=test_key.replace("_", " "), title=classifier)
    axes[0][0].set_ylabel(train_key.replace("_", " "))
    figure.colorbar(image, ax=axes[0].tolist(), label=f"mean test {metric}")
    figure.suptitle(title)
    save_figure(figure, path)


def plot_leave_one_out(table: pd.DataFrame, path: str | Path, title: str) -> None:
    """Leave-one-generator-out: one heat-map per metric, the held-out fake source in rows, classifiers in columns
    (``plot_matrices`` with the metrics as its panels)."""
    panels = table.rename(columns={"classifier": "model", "metric": "classifier"}).assign(metric="score")
    plot_matrices(panels, "held_out_source", "model", path, title, metric="score")
