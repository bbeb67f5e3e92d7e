"""Figures: spectra per source, accuracy against samples, example crops, robustness curves, generalisation matrices.

Each function draws one figure in the style of ``analyses.style``, writes it as PNG with an SVG beside it,
and returns it (closed) so that tests can read its axes.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import cv2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from matplotlib.colors import Normalize
from matplotlib.lines import Line2D
from matplotlib.typing import LineStyleType

from unmask.analyses.style import CHANCE, CLASS_NAMES, PALETTE, SMALL, WIDTH, colours, save_figure
from unmask.features import spectrum
from unmask.learn.protocol import load_features

STRENGTHS = {
    "jpeg": "JPEG quality",
    "scale": "scale factor",
    "blur": "blur sigma (pixels)",
    "noise": "noise sigma (grey levels)",
}
STRONGER_WHEN_LOWER = {"jpeg", "scale"}  # a lower quality or factor is a stronger perturbation
PROTOCOLS: dict[
    str, tuple[LineStyleType, str, bool, str]
] = {  # robustness protocols as the table names them: line style, marker, filled, meaning
    "train_clean": ("-", "o", True, "trained clean"),
    "train_perturbed": ("--", "s", False, "trained perturbed alike"),
}


def _chance(axis: plt.Axes) -> None:
    axis.axhline(0.5, color=CHANCE, linewidth=0.8, linestyle=":", label="chance (0.5)")


def _accuracy_limits(axis: plt.Axes, low: np.ndarray, high: np.ndarray) -> None:
    """A y range that holds every error bar whole, 0.5 (chance) and 1.0; above 1.0 (only a std reaches it) shaded."""
    bottom = min(0.45, np.nanmin(low, initial=0.45))
    top = max(1.0, np.nanmax(high, initial=1.0))
    axis.set_ylim(bottom - 0.03, top + 0.03)
    if top > 1.0:
        axis.axhspan(1.0, top + 0.03, color="#eeeeee", zorder=0, linewidth=0)


def ring_axis(variant: str, length: int, shapes: set[tuple[int, int]]) -> tuple[np.ndarray, float | None, str]:
    """Where each feature lies in frequency: ring radii (cycles per image), the inscribed circle's radius, the label.

    The profile holds rings 1 .. r_max-1 of the (cropped) image; a resampled profile spreads its points
    evenly over that range. Images of several sizes have no common radius: their axis is the position.
    """
    if len(shapes) != 1:
        return np.linspace(0, 1, length), None, "position in the resampled spectrum (0: lowest ring, 1: highest)"
    (height, width) = next(iter(shapes))
    image = np.zeros((height, width))
    if spectrum.get_variant(variant).middle_third:
        image = spectrum.middle_third(image)
    native = spectrum.azimuthal_profile(image).size
    rings = np.linspace(1, native, length)
    return rings, min(image.shape) / 2, "spatial frequency: ring radius (cycles per image)"


def plot_spectra(
    shards: list[str | Path], manifest: str | Path, variant: str, path: str | Path, title: str
) -> plt.Figure:
    """Mean 1-D spectrum per source (top) and its standard deviation over the images (bottom); real solid, fake dashed."""
    data = load_features(shards)
    sizes = pq.read_table(manifest, columns=["id", "width", "height"]).to_pandas().set_index("id")
    used = sizes.loc[sizes.index.intersection(data.ids)]
    x, inscribed, xlabel = ring_axis(variant, data.X.shape[1], set(zip(used["height"], used["width"])))
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(WIDTH, 6.2), sharex=True, height_ratios=(2, 1), layout="constrained"
    )
    sources = sorted(set(data.sources))
    for source, colour in colours(sources).items():
        rows = data.sources == source
        label = CLASS_NAMES[int(data.y[rows][0])]
        style = {"color": colour, "linestyle": "--" if label == "fake" else "-", "linewidth": 1.6}
        top.plot(x, data.X[rows].mean(axis=0), label=f"{source} ({label}, n={rows.sum()})", **style)
        bottom.plot(x, data.X[rows].std(axis=0), **style)
    if inscribed is not None:
        for axis in (top, bottom):
            axis.axvline(inscribed, color=CHANCE, linewidth=0.8, linestyle=":")
        top.annotate(
            "edge of the inscribed circle:\nlarger rings lie in the corners only",
            xy=(inscribed, 0.97),
            xycoords=("data", "axes fraction"),
            xytext=(-4, 0),
            textcoords="offset points",
            ha="right",
            va="top",
            fontsize=SMALL,
            color=CHANCE,
        )
    normalised = spectrum.get_variant(variant).normalise
    quantity = "ring mean of 20 ln|F|" + (" / its first value" if normalised else "")
    top.set(ylabel=quantity, title=f"{title}: 1-D power spectrum per source (mean over images)")
    bottom.set(xlabel=xlabel, ylabel="std over images")
    top.set_xlim(x[0], x[-1])
    top.legend(loc="lower left")
    return save_figure(figure, path)


def plot_accuracy(
    table: pd.DataFrame, classifiers: list[str], path: str | Path, title: str, counts: dict[str, tuple[int, int, int]]
) -> plt.Figure:
    """Mean test accuracy ± std over the repeats per size (categories, evenly spaced), one marker per classifier.

    ``counts`` maps each size (as the table writes it) to its training and test images and the repeats.
    """
    figure, axes = plt.subplots(figsize=(WIDTH, 4.2), layout="constrained")
    ordered = table.iloc[::-1].reset_index(drop=True)  # smallest size first
    positions = np.arange(len(ordered))
    offsets = np.linspace(-0.12, 0.12, len(classifiers)) if len(classifiers) > 1 else [0.0]
    low, high = [], []
    for (name, colour), offset in zip(colours(classifiers).items(), offsets):
        mean, std = ordered[name].to_numpy(float), ordered[f"{name}_std"].fillna(0).to_numpy(float)
        axes.errorbar(positions + offset, mean, yerr=std, fmt="o", color=colour, capsize=3, label=name)
        low.append(mean - std)
        high.append(mean + std)
    _chance(axes)
    ticks = []
    for samples in ordered["samples"].astype(str):
        n_train, n_test, _ = counts[samples]
        ticks.append(f"{samples}\n{n_train} train / {n_test} test")
    axes.set_xticks(positions, ticks)
    axes.set_xlim(-0.5, len(ordered) - 0.5)
    _accuracy_limits(axes, np.concatenate(low), np.concatenate(high))
    repeats = sorted({r for _, _, r in counts.values()})
    axes.set(
        xlabel="samples per repeat, both classes (categories, not to scale)",
        ylabel="test accuracy",
        title=f"{title}: test accuracy against samples (mean ± std over {'/'.join(map(str, repeats))} repeats)",
    )
    axes.legend(loc="lower right", ncol=len(classifiers) + 1)
    return save_figure(figure, path)


def plot_crops(manifest: str | Path, path: str | Path, title: str, per_class: int = 6) -> plt.Figure:
    """Example face crops of each class (the first by a stable hash of their id), to check the data by eye."""
    frame = pq.read_table(manifest, columns=["id", "path", "label", "shard_key"]).to_pandas()
    figure, axes = plt.subplots(
        2, per_class, figsize=(WIDTH, WIDTH / per_class * 2 + 1.0), squeeze=False, layout="constrained"
    )
    for row, label in enumerate((0, 1)):
        examples = frame[frame["label"] == label].sort_values("shard_key").head(per_class)
        for column, axis in enumerate(axes[row]):
            axis.axis("off")
            if column < len(examples):
                item = examples.iloc[column]
                # an unreadable example fails in cvtColor (cv2.error), as before the annotations
                axis.imshow(cv2.cvtColor(cv2.imread(item["path"]), cv2.COLOR_BGR2RGB))  # type: ignore[arg-type]
                name = item["id"] if len(item["id"]) <= 16 else "…" + item["id"][-15:]
                axis.set_title(f"{CLASS_NAMES[label]}\n{name}", fontsize=SMALL - 2)
    figure.suptitle(f"{title}: example crops (native resolution, shown scaled)")
    return save_figure(figure, path)


def _strength_ticks(kind: str, strengths: list[float]) -> list[float]:
    """A kind's strengths, weakest first."""
    return sorted(strengths, reverse=kind in STRONGER_WHEN_LOWER)


def plot_robustness(table: pd.DataFrame, path: str | Path, title: str) -> plt.Figure:
    """Accuracy per perturbation kind: x is none (the clean baseline) then each strength, weakest first.

    Colour: classifier; solid circles: trained clean; dashed open squares: trained on perturbed images.
    Markers of one x are spread sideways so that equal values stay visible.
    """
    accuracy = table[table["metric"] == "accuracy"]
    perturbed = accuracy[accuracy["protocol"] != "clean"]
    kinds, classifiers = list(dict.fromkeys(perturbed["kind"])), list(dict.fromkeys(accuracy["classifier"]))
    columns = min(2, len(kinds))
    rows = -(-len(kinds) // columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(WIDTH, 0.4 + 3.1 * rows), squeeze=False, sharey=True, layout="constrained"
    )
    palette = colours(classifiers)
    series = [(c, p) for c in classifiers for p in PROTOCOLS]
    offsets = dict(zip(series, np.linspace(-0.15, 0.15, len(series)) if len(series) > 1 else [0.0]))
    low, high = [], []
    for axis, kind in zip(axes.flat, kinds):
        strengths = _strength_ticks(kind, list(dict.fromkeys(perturbed.loc[perturbed["kind"] == kind, "strength"])))
        for classifier, protocol in series:
            mine = accuracy[accuracy["classifier"] == classifier]
            clean = mine[mine["protocol"] == "clean"]
            rows_ = mine[(mine["kind"] == kind) & (mine["protocol"] == protocol)].set_index("strength")
            mean = np.concatenate([clean["mean"], rows_.loc[strengths, "mean"]])
            std = np.concatenate([clean["std"], rows_.loc[strengths, "std"]])
            std = np.nan_to_num(std)
            style, marker, filled, _ = PROTOCOLS[protocol]
            colour = palette[classifier]
            axis.errorbar(
                np.arange(len(mean)) + offsets[(classifier, protocol)],
                mean,
                yerr=std,
                color=colour,
                linestyle=style,
                marker=marker,
                markersize=5,
                markerfacecolor=colour if filled else "white",
                capsize=2,
                linewidth=1.2,
            )
            low.append(mean - std)
            high.append(mean + std)
        _chance(axis)
        axis.set_xticks(range(len(strengths) + 1), ["none", *(f"{s:g}" for s in strengths)])
        axis.set_xlim(-0.5, len(strengths) + 0.5)
        axis.set(title=kind, xlabel=f"{STRENGTHS.get(kind, kind)}, stronger →")
    for axis in axes.flat[len(kinds) :]:
        axis.axis("off")
    for axis in axes[:, 0]:
        axis.set_ylabel("test accuracy")
    _accuracy_limits(axes.flat[0], np.concatenate(low), np.concatenate(high))
    handles = [Line2D([], [], color=palette[c], linewidth=3, label=c) for c in classifiers]
    handles += [
        Line2D(
            [], [], color="black", linestyle=s, marker=m, markerfacecolor="black" if f else "white", label=f"{p}: {t}"
        )
        for p, (s, m, f, t) in PROTOCOLS.items()
    ]
    handles.append(Line2D([], [], color=CHANCE, linestyle=":", label="chance (0.5)"))
    # Legends fill column by column: this order reads row by row, the classifiers first.
    by_row = [handles[i] for c in range(3) for i in range(c, len(handles), 3)]
    figure.legend(handles=by_row, loc="outside lower center", ncol=3)
    samples = sorted(set(accuracy["samples"].dropna().astype(int)))
    figure.suptitle(
        f"{title}: accuracy under perturbed test images\n({'/'.join(map(str, samples))} samples, "
        f"mean ± std over {int(accuracy['repeats'].max())} repeats)"
    )
    return save_figure(figure, path)


def plot_message(text: str, path: str | Path, title: str) -> plt.Figure:
    """A figure holding only ``text``: what stands where an analysis could not run."""
    figure = plt.figure(figsize=(WIDTH, 1.6), layout="constrained")
    figure.text(0.5, 0.45, "\n".join(textwrap.wrap(text, 90)), ha="center", va="center")
    figure.suptitle(title)
    return save_figure(figure, path)


def plot_matrices(
    table: pd.DataFrame, train_key: str, test_key: str, path: str | Path, title: str, metric: str = "accuracy"
) -> plt.Figure:
    """One heat-map per classifier: mean ``metric`` (± std), training set in rows, test set in columns.

    The colour scale spans the data's range, so that close values stay apart; where the table gives
    ``n_train`` and ``n_test``, the tick labels say how many images trained and tested each cell.
    """
    selected = table[table["metric"] == metric]
    classifiers = list(dict.fromkeys(selected["classifier"]))
    trained, tested = list(dict.fromkeys(selected[train_key])), list(dict.fromkeys(selected[test_key]))
    columns = max(1, min(len(classifiers), int((WIDTH - 1.5) // (0.4 + 0.75 * len(tested)))))
    rows = -(-len(classifiers) // columns)
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(WIDTH, 1.2 + rows * (2.2 + 0.6 * len(trained))),
        squeeze=False,
        sharey=True,
        layout="constrained",
    )
    lowest = float(np.floor(selected["mean"].min() * 20) / 20)
    norm = Normalize(vmin=min(lowest, 0.95), vmax=1.0)
    cmap = plt.get_cmap("viridis")
    counts = {"n_train", "n_test"} <= set(selected.columns)
    for axis in axes.flat[len(classifiers) :]:
        axis.axis("off")
    for axis, classifier in zip(axes.flat, classifiers):
        rows = selected[selected["classifier"] == classifier]
        matrix = rows.pivot(index=train_key, columns=test_key, values="mean").reindex(index=trained, columns=tested)
        spread = rows.pivot(index=train_key, columns=test_key, values="std").reindex(index=trained, columns=tested)
        image = axis.imshow(matrix.to_numpy(dtype=float), norm=norm, cmap=cmap)
        for (i, j), value in np.ndenumerate(matrix.to_numpy(dtype=float)):
            dark = sum(cmap(norm(value))[:3]) < 1.5
            axis.text(
                j,
                i,
                f"{value:.2f}\n±{spread.iloc[i, j]:.2f}",
                ha="center",
                va="center",
                color="white" if dark else "black",
                fontsize=SMALL,
            )
        tested_labels = tested
        if counts:
            n_test = rows.groupby(test_key)["n_test"].first()
            tested_labels = [f"{t}\n(n={n_test[t]})" for t in tested]
        axis.set_xticks(range(len(tested)), tested_labels, rotation=30, ha="right")
        axis.set(title=classifier, xlabel=test_key.replace("_", " "))
        axis.spines[:].set_visible(False)
    trained_labels = trained
    if counts:
        n_train = selected.groupby(train_key)["n_train"].first()
        trained_labels = [f"{t}\n(n={n_train[t]})" for t in trained]
    for axis in axes[:, 0]:
        axis.set_yticks(range(len(trained)), trained_labels)
        axis.set_ylabel(train_key.replace("_", " "))
    figure.colorbar(image, ax=axes.ravel().tolist(), label=f"mean test {metric}", shrink=0.9)
    repeats = int(selected["repeats"].max())
    note = f"mean ± std over {repeats} repeats" + ("; n: images in each training and test set" if counts else "")
    figure.suptitle(f"{title}\n({note})")
    return save_figure(figure, path)


def plot_leave_one_out(table: pd.DataFrame, path: str | Path, title: str) -> plt.Figure:
    """Leave-one-generator-out: one heat-map per metric, the held-out fake source in rows, classifiers in columns
    (``plot_matrices`` with the metrics as its panels)."""
    panels = table.rename(columns={"classifier": "model", "metric": "classifier"}).assign(metric="score")
    return plot_matrices(panels, "held_out_source", "model", path, title, metric="score")


def reliability_svg(calibration: pd.DataFrame, title: str) -> str:
    """The reliability diagram of a model's p_fake (mean predicted against fraction fake per bin), as SVG text."""
    figure, axis = plt.subplots(figsize=(4.2, 4.0), layout="constrained")
    axis.plot([0, 1], [0, 1], color=CHANCE, linestyle=":", linewidth=0.8, label="perfectly calibrated")
    size = 20 + 180 * calibration["count"] / max(1, calibration["count"].max())
    axis.plot(calibration["mean_predicted"], calibration["fraction_fake"], color=PALETTE[0], linewidth=1.2)
    axis.scatter(calibration["mean_predicted"], calibration["fraction_fake"], s=size, color=PALETTE[0], label="bins")
    axis.set(xlim=(0, 1), ylim=(0, 1), xlabel="mean predicted p_fake", ylabel="fraction fake", title=title)
    axis.legend(loc="upper left", title="marker area: images")
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # no XML declaration or doctype inside an HTML page
