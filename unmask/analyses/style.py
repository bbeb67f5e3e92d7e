"""The figures' one style: sizes, fonts, a colour-blind-safe palette, the names the tables use, and saving.

Every figure is written twice, as PNG (for the report) and as SVG beside it (for a paper), both
byte-identical between identical runs.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from unmask.io import atomic_output  # noqa: E402

# Okabe & Ito (2008), "Color universal design": distinguishable under every common colour-vision deficiency.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
CHANCE = "#555555"
WIDTH = 7.0  # inches: a full text width; at DPI it is 1050 px, readable when a browser shows it 900 px wide
DPI = 150
FONT_SIZE = 10
SMALL = 9  # legends, tick labels and cell values: never below this
CLASS_NAMES = {0: "real", 1: "fake"}  # label 0 and 1, as the manifest and the tables name them

RC = {
    "font.size": FONT_SIZE,
    "axes.titlesize": FONT_SIZE + 1,
    "axes.labelsize": FONT_SIZE,
    "xtick.labelsize": SMALL,
    "ytick.labelsize": SMALL,
    "legend.fontsize": SMALL,
    "figure.titlesize": FONT_SIZE + 2,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),  # type: ignore[attr-defined]  # missing from matplotlib's stubs
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "unmask",  # fixed element ids: identical runs write identical SVG
    "svg.fonttype": "path",
}
plt.rcParams.update(RC)  # type: ignore[arg-type]  # the stubs take only literal rcParams names


def colours(names: list[str]) -> dict[str, str]:
    """One palette colour per name, in the given order."""
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


def vector_path(path: str | Path) -> Path:
    """The SVG written beside a figure's PNG."""
    return Path(path).with_suffix(".svg")


def save_figure(figure: plt.Figure, path: str | Path) -> plt.Figure:
    """Write a figure as PNG and as SVG beside it, atomically and without dates; close it and return it."""
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    with atomic_output(vector_path(path)) as tmp:
        figure.savefig(tmp, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(figure)
    return figure
