"""HTML pages that the Snakemake report shows inline: any results table, the data checks, a model card.

Tables are rendered generically, by the shape of their columns: ``<name>`` beside ``<name>_std`` (the
paper's layout) and ``mean`` beside ``std`` (long format) become one "mean ± std" cell, ``ci_low`` and
``ci_high`` one "95% CI" cell, ``<name>`` beside ``<name>_ci_low`` and ``<name>_ci_high`` one "value [low, high]" cell; means, std and intervals are rounded to three decimals. A model card shows
every block its model file has. Every page is one self-contained file (inline style, inline SVG).
"""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np
import pandas as pd

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 1.2em; color: #222; max-width: 72em; }
h1 { font-size: 1.35em; } h2 { font-size: 1.1em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: 0.6em 0; font-variant-numeric: tabular-nums; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #ddd; text-align: right; vertical-align: top; }
th { background: #f3f3f3; } td.text, th.text { text-align: left; }
p.note { color: #555; } .warning { color: #8a3b00; } code { background: #f3f3f3; padding: 0 0.2em; }
svg { max-width: 34em; height: auto; }
"""
DIGITS = 3
BLOCK_TITLES = {  # model file blocks with a reader's title; any other block is shown under its own name
    "provenance": "Training data and provenance",
    "domain": "Domain: the inputs the model was fitted on",
    "calibration": "Calibration of p_fake",
    "scaler": "Feature scaling",
    "parameters": "Parameters",
}


def number(value, digits: int = DIGITS) -> str:
    """A cell: rounded to ``digits`` decimals, whole numbers without decimals, missing values as a dash."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}"
    return str(value)


def _plain(value) -> str:
    """A key's cell: numbers as written (``90``, ``0.5``), missing values as a dash."""
    if isinstance(value, (float, np.floating)):
        return "–" if not np.isfinite(value) else f"{value:g}"
    return number(value)


def display_table(frame: pd.DataFrame) -> pd.DataFrame:
    """A table of strings for reading: mean ± std and 95% CI cells, rounded values, counts as integers."""
    shown = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        if column.endswith(("_std", "_ci_low", "_ci_high")) and re.sub("_(std|ci_low|ci_high)$", "", column) in frame:
            continue
        if column in ("std", "ci_high") or (column == "ci_low" and "ci_high" not in frame.columns):
            continue
        values = frame[column]
        if column == "mean" and "std" in frame.columns:
            shown["mean ± std"] = [f"{number(m)} ± {number(s)}" for m, s in zip(values, frame["std"])]
        elif column == "ci_low":
            shown["95% CI"] = [f"[{number(lo)}, {number(hi)}]" for lo, hi in zip(values, frame["ci_high"])]
        elif {f"{column}_ci_low", f"{column}_ci_high"} <= set(frame.columns):
            low, high = frame[f"{column}_ci_low"], frame[f"{column}_ci_high"]
            shown[f"{column} [95% CI]"] = [
                f"{number(v)} [{number(lo)}, {number(hi)}]" for v, lo, hi in zip(values, low, high)
            ]
        elif f"{column}_std" in frame.columns:
            shown[column] = [f"{number(m)} ± {number(s)}" for m, s in zip(values, frame[f"{column}_std"])]
        elif pd.api.types.is_float_dtype(values) and column not in ("strength",) and values.abs().max() <= 1:
            shown[column] = values.map(number)
        else:
            shown[column] = values.map(_plain)
    return shown


def table_html(frame: pd.DataFrame) -> str:
    """A table's HTML (escaped), text columns left-aligned and numbers right-aligned."""
    shown = display_table(frame)
    text = [c for c in shown.columns if not pd.api.types.is_numeric_dtype(frame.get(c, pd.Series(dtype=float)))]
    head = "".join(f'<th class="{"text" if c in text else ""}">{html.escape(str(c))}</th>' for c in shown.columns)
    rows = []
    for _, row in shown.iterrows():
        cells = "".join(f'<td class="{"text" if c in text else ""}">{html.escape(str(v))}</td>' for c, v in row.items())
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def rst_paragraphs(text: str) -> str:
    """A caption in the report's simple reStructuredText as HTML paragraphs (``code`` and `code` marked)."""
    paragraphs = [" ".join(p.split()) for p in text.strip().split("\n\n") if p.strip()]
    code = re.compile(r"``?([^`]+)``?")
    return "".join("<p>" + code.sub(r"<code>\1</code>", html.escape(p)) + "</p>" for p in paragraphs)


def page(title: str, body: str) -> str:
    """A self-contained HTML page."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head>\n<body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>\n"
    )


def results_page(frame: pd.DataFrame, title: str, caption: str = "", counts: pd.DataFrame | None = None) -> str:
    """A results table as a page: its caption, the table, and where given the images behind each row."""
    if counts is not None:
        frame = frame.merge(counts, on="samples", how="left")
    note = '<p class="note">Mean ± standard deviation over the repeats; 95% CI: t-interval of the mean.</p>'
    return page(title, rst_paragraphs(caption) + table_html(frame) + note)


def table_counts(metadata: dict) -> pd.DataFrame:
    """From a paper table's ``.json``: per size, the training and test images and the repeats behind each mean."""
    rows = {}
    for sizes in metadata["classifiers"].values():
        for samples, facts in sizes.items():
            rows[samples] = {
                "samples": samples,
                "train / test images": f"{facts['n_train']} / {facts['n_test']}",
                "repeats": facts["repeats"],
            }
    return pd.DataFrame(list(rows.values()), columns=["samples", "train / test images", "repeats"])


def data_page(title: str, audit: pd.DataFrame, warnings: str, rejects: pd.DataFrame) -> str:
    """The data checks: the format audit with its warnings, and the rejected files counted per reason."""
    lines = [line for line in warnings.splitlines() if line.strip()]
    if lines:
        warned = "".join(f'<li class="warning">{html.escape(line)}</li>' for line in lines)
        warned = f"<ul>{warned}</ul>"
    else:
        warned = (
            "<p>No warnings: the real and fake sources do not differ in file format, pixel size, JPEG chroma "
            "subsampling or JPEG quality.</p>"
        )
    counts = (
        rejects.groupby(["stage", "reason"], dropna=False).size().rename("files").reset_index()
        if len(rejects)
        else pd.DataFrame(columns=["stage", "reason", "files"])
    ).sort_values(["files", "stage", "reason"], ascending=[False, True, True], kind="stable")
    per_source = rejects.groupby("source").size().rename("files rejected").reset_index()
    body = (
        "<h2>Format audit warnings</h2>"
        + warned
        + "<h2>Format audit per source</h2>"
        + table_html(audit)
        + f"<h2>Rejected files: {len(rejects)}</h2>"
        + (table_html(counts) + table_html(per_source) if len(rejects) else "<p>No file was rejected.</p>")
        + '<p class="note">Every rejected file and its reason: <code>rejects.csv</code> (a download in the '
        "report's data list).</p>"
    )
    return page(title, body)


def _block_html(block: dict) -> str:
    """One block of a model file as a two-column table; long lists are summarised, nested blocks nested."""
    rows = []
    for key, value in block.items():
        if isinstance(value, dict):
            cell = _block_html(value)
        elif isinstance(value, list) and len(value) > 8:
            cell = html.escape(f"{len(value)} values")
        elif isinstance(value, list):
            cell = html.escape(", ".join(_plain(v) if isinstance(v, float) else str(v) for v in value))
        else:
            cell = html.escape(_plain(value))
        rows.append(f'<tr><th class="text">{html.escape(str(key))}</th><td class="text">{cell}</td></tr>')
    return f"<table>{''.join(rows)}</table>"


def model_card(name: str, model: dict[str, Any], calibration: pd.DataFrame, reliability_svg: str) -> str:
    """A model file as a page: its fields, each of its blocks (whatever blocks it has), the reliability plot."""
    scalars = {k: v for k, v in model.items() if not isinstance(v, dict)}
    blocks = {k: v for k, v in model.items() if isinstance(v, dict)}
    order = [k for k in BLOCK_TITLES if k in blocks] + [k for k in blocks if k not in BLOCK_TITLES]
    body = (
        "<p>The classifier fitted on the whole dataset, as <code>unmask predict --model</code> loads it: a "
        "file is called fake where its p_fake is at least the threshold.</p>" + _block_html(scalars)
    )
    for key in order:
        body += f"<h2>{html.escape(BLOCK_TITLES.get(key, key))}</h2>" + _block_html(blocks[key])
    brier = calibration["brier"].iloc[0] if len(calibration) else float("nan")
    body += (
        "<h2>Reliability of p_fake</h2><p>From cross-validated decisions the model was not fitted on; Brier "
        f"score {number(brier)} (0 is perfect, 0.25 a constant 0.5).</p>"
        + reliability_svg
        + table_html(calibration.drop(columns="brier"))
    )
    return page(f"Model card: {name}", body)
