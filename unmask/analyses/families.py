"""The family comparison: each feature family (and its band control) x classifier, as given and harmonised.

Each family's column of the family shards goes through the paper table's
protocol (``protocol.run_repeats``: the same draws for every family), and each
repeat's test predictions give accuracy, ROC AUC and TPR at 1% FPR, summarised
over the repeats as mean and 95% t-interval (``metrics.summarize``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from unmask.features.families import Spec, band_controls
from unmask.learn.metrics import binary_metrics, summarize
from unmask.learn.protocol import Protocol, load_features, run_repeats

METRICS = ("accuracy", "roc_auc", "tpr_at_fpr_1")


def band_name(spec: Spec, split: float) -> str:
    """``all``, ``low`` or ``high`` for the band control's rows, else the band itself."""
    if spec.band is None:
        return "all"
    return {(0.0, split): "low", (split, 1.0): "high"}.get(spec.band, f"{spec.band[0]:g}-{spec.band[1]:g}")


def compare(
    shards: dict[str, list[str | Path]],
    specs: list[Spec],
    split: float,
    classifiers: dict[str, dict],
    size: int | str,
    protocol: Protocol,
) -> pd.DataFrame:
    """One row per images kind (``given``, ``harmonised``), family, band and classifier."""
    rows = []
    for images, paths in shards.items():
        for spec in band_controls(specs, split):
            data = load_features(paths, spec.name)
            for name, classifier in classifiers.items():
                _, predictions = run_repeats(data, name, classifier, size, protocol)
                frame = predictions.to_pandas()
                per_repeat = [
                    binary_metrics(group["label"], group["score"], group["predicted"])
                    for _, group in frame.groupby("repeat", sort=True)
                ]
                row = {
                    "images": images,
                    "family": spec.family,
                    "band": band_name(spec, split),
                    "classifier": name,
                    "items": len(data.y),
                    "features": data.X.shape[1],
                }
                for metric in METRICS:
                    stats = summarize(repeat[metric] for repeat in per_repeat)
                    row |= {
                        metric: stats["mean"],
                        f"{metric}_ci_low": stats["ci_low"],
                        f"{metric}_ci_high": stats["ci_high"],
                    }
                row["repeats"] = len(per_repeat)
                rows.append(row)
    return pd.DataFrame(rows)


def plot(table: pd.DataFrame, path: str | Path, title: str):
    """Accuracy (95% interval) per family and band, one bar per classifier, a panel per images kind."""
    from unmask.analyses.style import CHANCE, WIDTH, colours, plt, save_figure

    kinds = list(dict.fromkeys(table["images"]))
    figure, axes = plt.subplots(
        len(kinds), 1, figsize=(WIDTH, 3.4 * len(kinds)), squeeze=False, sharey=True, layout="constrained"
    )
    for axis, kind in zip(axes[:, 0], kinds):
        part = table[table["images"] == kind].assign(label=lambda t: t["family"] + " " + t["band"])
        labels = list(dict.fromkeys(part["label"]))
        classifiers = list(dict.fromkeys(part["classifier"]))
        palette, width = colours(classifiers), 0.8 / len(classifiers)
        for k, name in enumerate(classifiers):
            rows = part[part["classifier"] == name].set_index("label").loc[labels]
            error = np.abs(rows[["accuracy_ci_low", "accuracy_ci_high"]].to_numpy().T - rows["accuracy"].to_numpy())
            axis.bar(
                np.arange(len(labels)) + k * width,
                rows["accuracy"],
                width,
                yerr=np.nan_to_num(error),
                color=palette[name],
                label=name,
            )
        axis.set_xticks(np.arange(len(labels)) + 0.4 - width / 2, labels, rotation=45, ha="right")
        axis.set(ylim=(0.4, 1.05), ylabel="test accuracy", title=f"images {kind}")
        axis.axhline(0.5, color=CHANCE, linewidth=0.8, linestyle=":", label="chance")
    axes[0, 0].legend(loc="lower left", ncols=len(classifiers) + 1)
    figure.suptitle(f"{title}: feature families and their band controls (mean, 95% interval)")
    return save_figure(figure, path)
