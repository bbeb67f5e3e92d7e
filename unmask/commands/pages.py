"""``unmask report-table``, ``data-page``, ``model-card``: the report's HTML pages (workflow stages)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from unmask.io import write_text


def _report_table(args: argparse.Namespace) -> int:
    import pandas as pd

    from unmask.analyses import pages

    counts = pages.table_counts(json.loads(Path(args.metadata).read_text())) if args.metadata else None
    frame = pd.read_csv(args.table, dtype={"samples": str})
    write_text(args.out, pages.results_page(frame, args.title, args.caption, counts))
    return 0


def _data_page(args: argparse.Namespace) -> int:
    import pandas as pd

    from unmask.analyses import pages

    audit, rejects = pd.read_csv(args.audit), pd.read_csv(args.rejects, dtype=str)
    write_text(args.out, pages.data_page(args.title, audit, Path(args.warnings).read_text(), rejects))
    return 0


def _model_card(args: argparse.Namespace) -> int:
    import pandas as pd

    from unmask.analyses import figures, pages

    model, calibration = json.loads(Path(args.model).read_text()), pd.read_csv(args.calibration)
    plot = figures.reliability_svg(calibration, args.title)
    write_text(args.out, pages.model_card(args.title, model, calibration, plot))
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's sub-commands (named in its docstring) to ``unmask``."""
    command = commands.add_parser("report-table", description="a results table as an HTML page (workflow stage)")
    command.add_argument("table", help="a results table (CSV)")
    command.add_argument("--title", required=True, help="the page's title")
    command.add_argument("--caption", default="", help="a description of the table (reStructuredText, as a caption)")
    command.add_argument("--metadata", help="the paper table's .json: the images and repeats behind each size")
    command.add_argument("--out", required=True, help="the page (HTML)")
    command.set_defaults(run=_report_table)

    command = commands.add_parser(
        "data-page", description="format audit, its warnings and the rejects (workflow stage)"
    )
    command.add_argument("--audit", required=True, help="the format audit (CSV)")
    command.add_argument("--warnings", required=True, help="the format audit's warnings (text)")
    command.add_argument("--rejects", required=True, help="every rejected file with its reason (CSV)")
    command.add_argument("--title", required=True, help="the page's title")
    command.add_argument("--out", required=True, help="the page (HTML)")
    command.set_defaults(run=_data_page)

    command = commands.add_parser("model-card", description="a stored model as an HTML page (workflow stage)")
    command.add_argument("model", help="the model file (JSON)")
    command.add_argument("--calibration", required=True, help="its reliability curve (CSV)")
    command.add_argument("--title", required=True, help="the page's title")
    command.add_argument("--out", required=True, help="the page (HTML)")
    command.set_defaults(run=_model_card)
