"""The report's HTML pages: tables of any shape, the data checks, model cards; and the demo's report showing them."""

from __future__ import annotations

import base64
import json
import re
import shutil

import pandas as pd
import pytest
from conftest import snakemake

from unmask.analyses import pages


def test_paper_table_cells_are_mean_plus_minus_std_with_counts():
    table = pd.DataFrame({"samples": ["200", "20"], "svm": [0.9075, 0.95], "svm_std": [0.0514377, 0.158114]})
    metadata = {
        "classifiers": {
            "svm": {
                "200": {"n_train": 160, "n_test": 40, "repeats": 10},
                "20": {"n_train": 16, "n_test": 4, "repeats": 10},
            }
        }
    }
    shown = pages.display_table(table.merge(pages.table_counts(metadata), on="samples"))
    assert list(shown.columns) == ["samples", "svm", "train / test images", "repeats"]
    assert shown["svm"].tolist() == ["0.907 ± 0.051", "0.950 ± 0.158"]
    assert shown["train / test images"].tolist() == ["160 / 40", "16 / 4"]


def test_long_table_cells_have_std_and_interval():
    metrics = pd.DataFrame(
        {
            "classifier": ["svm"],
            "samples": ["20"],
            "metric": ["accuracy"],
            "mean": [0.95],
            "std": [0.158114],
            "ci_low": [0.836896],
            "ci_high": [1.0],
            "repeats": [10],
            "strength": [90.0],
        }
    )
    shown = pages.display_table(metrics)
    assert list(shown.columns) == ["classifier", "samples", "metric", "mean ± std", "95% CI", "repeats", "strength"]
    assert shown.iloc[0].tolist() == ["svm", "20", "accuracy", "0.950 ± 0.158", "[0.837, 1.000]", "10", "90"]


def test_a_value_with_its_own_interval_columns_is_one_cell():
    families = pd.DataFrame(
        {
            "family": ["ycbcr_radial"],
            "accuracy": [0.995],
            "accuracy_ci_low": [0.98912],
            "accuracy_ci_high": [1.0],
            "tpr_at_fpr_1": [0.9],
        }
    )
    shown = pages.display_table(families)
    assert list(shown.columns) == ["family", "accuracy [95% CI]", "tpr_at_fpr_1"]
    assert shown.iloc[0].tolist() == ["ycbcr_radial", "0.995 [0.989, 1.000]", "0.900"]


def test_a_table_of_a_new_shape_renders_and_escapes():
    frame = pd.DataFrame(
        {"family": ["<fft>", "dct"], "accuracy": [0.91234, float("nan")], "accuracy_std": [0.01, 0.02]}
    )
    html = pages.results_page(frame, "demo: families", "Feature ``families`` compared.")
    assert "&lt;fft&gt;" in html and "<fft>" not in html
    assert "0.912 ± 0.010" in html and "– ± 0.020" in html
    assert "<code>families</code>" in html


def test_data_page_shows_warnings_and_rejects_per_reason():
    audit = pd.DataFrame(
        {"source": ["cam", "gan"], "label": [0, 1], "format": ["JPEG", "PNG"], "quality_median": [95.0, None]}
    )
    warning = (
        "real sources (cam) are JPEG but fake sources (gan) are PNG: a spectral classifier may learn the container"
    )
    rejects = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "path": ["a", "b", "c"],
            "source": ["cam", "cam", "gan"],
            "stage": ["manifest"] * 3,
            "reason": ["truncated JPEG", "truncated JPEG", "empty file"],
        }
    )
    html = pages.data_page("demo: data checks", audit, warning + "\n", rejects)
    assert warning in html
    assert "Rejected files: 3" in html
    assert re.search(r"truncated JPEG</td><td[^>]*>2</td>", html) and re.search(r"empty file</td><td[^>]*>1</td>", html)
    quiet = pages.data_page("demo: data checks", audit, "", rejects.iloc[:0])
    assert "No warnings" in quiet and "No file was rejected" in quiet


def test_model_card_shows_every_block_the_model_has():
    model = {
        "kind": "logreg",
        "variant": "faces_hq",
        "feature_length": 88,
        "threshold": 0.5,
        "scaler": {"mean": [1.0] * 88, "scale": [2.0] * 88},
        "calibration": {"method": "platt", "a": -1.2, "b": 0.3},
        "provenance": {"dataset": "demo", "n_train": 240, "seed": 0},
        "domain": {"sizes": ["128x128"], "formats": ["JPEG", "PNG"]},
        "conformal": {"alpha": 0.1, "quantile": 0.8},
    }
    calibration = pd.DataFrame(
        {
            "bin_low": [0.0],
            "bin_high": [0.1],
            "mean_predicted": [0.02],
            "fraction_fake": [0.0],
            "count": [10],
            "brier": [0.052],
        }
    )
    html = pages.model_card("demo: logreg", model, calibration, "<svg>plot</svg>")
    for text in (
        "Training data and provenance",
        "n_train",
        "240",
        "Domain",
        "128x128",
        "conformal",
        "quantile",
        "threshold",
        "0.5",
        "88 values",
        "Brier score 0.052",
        "<svg>plot</svg>",
    ):
        assert text in html, text


def embedded_pages(report: str) -> dict[str, str]:
    """The HTML pages a Snakemake report embeds (as base64 data URIs), by file name."""
    found = re.findall(r"data:text/html;charset=utf8;filename=([^;]+);base64,([A-Za-z0-9+/=]+)", report)
    return {name: base64.b64decode(data).decode() for name, data in found}


@pytest.mark.workflow
def test_demo_report_shows_the_table_the_audit_and_the_model_cards(demo_run, tmp_path):
    workdir, config = tmp_path / "demo", demo_run[1]
    shutil.copytree(demo_run[0], workdir, symlinks=True)  # a private copy: the audit gets a warning
    warning = "real sources (photo_jpeg) are JPEG but fake sources (transposed_conv) are PNG: a warning the test adds"
    with open(workdir / "results/demo/format_audit_warnings.txt", "a") as warnings:
        warnings.write(warning + "\n")
    snakemake(workdir, "results/demo/report/data.html", "--configfile", str(config))
    result = snakemake(workdir, "--report", str(tmp_path / "report.html"), "--configfile", str(config))
    assert "was never awaited" not in result.stderr
    embedded = embedded_pages((tmp_path / "report.html").read_text())
    assert {"table.html", "metrics.html", "robustness.html", "data.html", "model_svm.html"} <= set(embedded)
    table = pd.read_csv(workdir / "results/demo_table.csv", dtype={"samples": str})
    for _, row in table.iterrows():
        for classifier in ("svm", "logreg", "kmeans"):
            assert f"{row[classifier]:.3f} ± {row[f'{classifier}_std']:.3f}" in embedded["table.html"]
    facts = json.loads((workdir / "results/demo_table.json").read_text())["classifiers"]["svm"]["20"]
    assert f"{facts['n_train']} / {facts['n_test']}" in embedded["table.html"]
    data = embedded["data.html"]
    assert warning in data and "No warnings" not in data
    assert "Format audit per source" in data and "photo_jpeg" in data
    card = embedded["model_svm.html"]
    assert "Model card: demo: svm" in card and "Training data and provenance" in card and "<svg" in card
    model = json.loads((workdir / "results/demo/models/svm.json").read_text())
    assert model["checksum"] in card and f"{model['threshold']:g}" in card


def test_reliability_plot_is_inline_svg_identical_between_runs():
    from unmask.analyses.figures import reliability_svg

    calibration = pd.DataFrame(
        {"mean_predicted": [0.05, 0.5, 0.95], "fraction_fake": [0.0, 0.4, 1.0], "count": [40, 5, 50]}
    )
    first, second = (reliability_svg(calibration, "demo: svm") for _ in range(2))
    assert first == second and first.startswith("<svg") and "<?xml" not in first and "DOCTYPE" not in first
