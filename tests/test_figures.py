"""The figures as a reader sees them: labels present, error bars whole, no axis with a single point, a vector copy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from unmask.analyses import figures
from unmask.analyses.style import PALETTE, SMALL
from unmask.features.extract import FEATURES_SCHEMA
from unmask.features.spectrum import features

CLASSIFIERS = ["svm", "logreg", "kmeans"]


def labelled(figure) -> None:
    """Every drawn panel has a title and an x label; the left column a y label; every legend text is readable."""
    drawn = [axis for axis in figure.axes if axis.axison and axis.get_label() != "<colorbar>"]
    assert drawn
    for axis in drawn:
        assert axis.get_title() and axis.get_xlabel(), axis
        assert all(label.get_text() for label in axis.get_xticklabels()), "tick labels"
    assert any(axis.get_ylabel() for axis in drawn)
    for legend in [*figure.legends, *(a.get_legend() for a in drawn if a.get_legend())]:
        assert all(text.get_fontsize() >= SMALL for text in legend.get_texts())


def error_bars_whole(figure) -> None:
    """Every error bar lies inside its panel's y range."""
    for axis in figure.axes:
        low, high = axis.get_ylim()
        for container in axis.containers:
            for collection in container.lines[2]:
                for segment in collection.get_segments():
                    assert low <= segment[:, 1].min() and segment[:, 1].max() <= high, (segment, low, high)


def several_x_ticks(figure) -> None:
    """No panel plots a single x value on a continuous axis (ticked 0.96 .. 1.04 around it)."""
    for axis in figure.axes:
        if axis.axison and axis.lines:
            xs = np.unique(np.concatenate([line.get_xdata() for line in axis.lines if len(line.get_xdata())]))
            assert len(axis.get_xticks()) >= 2 and len(xs) >= 2, axis.get_title()


def written_twice(path) -> None:
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert path.with_suffix(".svg").read_text().lstrip().startswith("<?xml")


def test_accuracy_figure(tmp_path):
    table = pd.DataFrame(
        {"samples": ["200", "20"], "svm": [0.9, 0.95], "logreg": [0.91, 0.975], "kmeans": [0.87, 0.85]}
        | {"svm_std": [0.05, 0.158], "logreg_std": [0.04, 0.079], "kmeans_std": [0.03, 0.129]}
    )
    counts = {"200": (160, 40, 10), "20": (16, 4, 10)}
    figure = figures.plot_accuracy(table, CLASSIFIERS, tmp_path / "accuracy.png", "demo", counts)
    labelled(figure)
    error_bars_whole(figure)  # 0.95 + 0.158 passes 1.0: the axis must hold it
    axis = figure.axes[0]
    assert [t.get_text() for t in axis.get_xticklabels()] == ["20\n16 train / 4 test", "200\n160 train / 40 test"]
    assert "chance (0.5)" in [t.get_text() for t in axis.get_legend().get_texts()]
    assert "demo" in axis.get_title() and "repeats" in axis.get_title()
    markers = [container.lines[0].get_xdata()[0] for container in axis.containers]
    assert len(set(markers)) == 3, "the classifiers' markers at one size are spread apart"
    assert all(
        not container.lines[0].get_linestyle() or container.lines[0].get_linestyle() == "None"
        for container in axis.containers
    ), "sizes are categories: no lines join them"
    written_twice(tmp_path / "accuracy.png")


def robustness_table() -> pd.DataFrame:
    rows = []
    for classifier in CLASSIFIERS:
        rows.append(dict(classifier=classifier, kind="none", strength=np.nan, protocol="clean", mean=0.9, std=0.02))
        for kind, strengths in (("jpeg", [90, 50]), ("blur", [1.0])):
            for protocol in ("train_clean", "train_perturbed"):
                for strength in strengths:
                    rows.append(
                        dict(classifier=classifier, kind=kind, strength=strength, protocol=protocol, mean=0.5, std=0.0)
                    )
    table = pd.DataFrame(rows).assign(metric="accuracy", samples=240, repeats=5)
    return table.assign(perturbation=table["kind"] + ":" + table["strength"].astype(str))


def test_robustness_figure(tmp_path):
    figure = figures.plot_robustness(robustness_table(), tmp_path / "robustness.png", "demo")
    labelled(figure)
    error_bars_whole(figure)
    several_x_ticks(figure)  # blur has one strength: its axis is "none" and "1", not 0.96 .. 1.04
    blur = next(axis for axis in figure.axes if axis.get_title() == "blur")
    assert [t.get_text() for t in blur.get_xticklabels()] == ["none", "1"]
    at_half = [tuple(np.round(bars.lines[0].get_xydata()[-1], 6)) for bars in blur.containers]
    assert len(at_half) == 6 and len(set(at_half)) == 6, "six equal 0.5 points stay apart"
    handles = {
        text.get_text(): handle for text, handle in zip(figure.legends[0].get_texts(), figure.legends[0].legend_handles)
    }
    clean = next(h for t, h in handles.items() if t.startswith("train_clean"))
    perturbed = next(h for t, h in handles.items() if t.startswith("train_perturbed"))
    assert (clean.get_marker(), clean.get_linestyle()) != (perturbed.get_marker(), perturbed.get_linestyle())
    assert clean.get_markerfacecolor() != perturbed.get_markerfacecolor()
    written_twice(tmp_path / "robustness.png")


def test_matrix_figure_scales_to_the_data_and_gives_counts(tmp_path):
    rows = [
        dict(
            train_source=a,
            test_source=b,
            classifier=c,
            metric="accuracy",
            mean=0.88 + 0.03 * (a == b),
            std=0.02,
            repeats=10,
            n_train=96,
            n_test=24,
        )
        for a in ("up", "conv")
        for b in ("up", "conv")
        for c in CLASSIFIERS
    ]
    figure = figures.plot_matrices(pd.DataFrame(rows), "train_source", "test_source", tmp_path / "m.png", "demo")
    labelled(figure)
    image = figure.axes[0].images[0]
    assert image.norm.vmin == pytest.approx(0.85) and image.norm.vmax == 1.0, "0.88 and 0.91 get distinct colours"
    texts = figure.axes[0].texts
    assert {t.get_text() for t in texts} == {"0.91\n±0.02", "0.88\n±0.02"}
    assert all(t.get_fontsize() >= SMALL for t in texts)
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["up\n(n=96)", "conv\n(n=96)"]
    written_twice(tmp_path / "m.png")


def test_spectra_figure(tmp_path):
    rng = np.random.default_rng(0)
    ids, rows = [], []
    for label, source in ((0, "camera"), (1, "gan")):
        for i in range(4):
            image = rng.integers(0, 255, size=(64, 64)).astype(np.uint8)
            ids.append(f"{source}/{i}")
            rows.append(
                {
                    "id": ids[-1],
                    "label": label,
                    "source": source,
                    "group": ids[-1],
                    "video": None,
                    "features": features(image, "faces_hq").tolist(),
                    "reason": None,
                }
            )
    shard = tmp_path / "shard-0.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=FEATURES_SCHEMA), shard)
    manifest = tmp_path / "manifest.parquet"
    pq.write_table(pa.table({"id": ids, "width": [64] * 8, "height": [64] * 8}), manifest)
    figure = figures.plot_spectra([shard], manifest, "faces_hq", tmp_path / "spectra.png", "toy")
    top, bottom = figure.axes
    assert "20 ln|F|" in top.get_ylabel() and "cycles per image" in bottom.get_xlabel()
    assert top.get_xlim()[0] == 1, "ring 1 is the first kept"
    assert 32 in [line.get_xdata()[0] for line in top.lines if line.get_linestyle() == ":"], "the inscribed circle"
    assert not top.collections, "no overlapping std bands: the std has its own panel"
    assert [line.get_color() for line in top.lines[:2]] == PALETTE[:2]
    labelled_spectra = [t.get_text() for t in top.get_legend().get_texts()]
    assert labelled_spectra == ["camera (real, n=4)", "gan (fake, n=4)"]
    written_twice(tmp_path / "spectra.png")


def test_figures_are_byte_identical_between_runs(tmp_path):
    for run in ("a", "b"):
        figures.plot_robustness(robustness_table(), tmp_path / run / "robustness.png", "demo")
    for suffix in (".png", ".svg"):
        first, second = (tmp_path / run / f"robustness{suffix}" for run in ("a", "b"))
        assert first.read_bytes() == second.read_bytes(), suffix
