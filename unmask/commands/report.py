"""``unmask table``, ``metrics``, ``videos-table``, ``crops-figure``, ``spectra``, ``rejects``, ``robustness-table``: a dataset's tables and figures (workflow stages)."""

from __future__ import annotations

import argparse
import logging

from unmask.io import write_csv

logger = logging.getLogger(__name__)


def _table(args: argparse.Namespace) -> int:
    from unmask.analyses import figures, tables

    runs = tables.read_runs(args.runs)
    table = tables.accuracy_table(runs, args.classifiers)
    write_csv(table, args.out)
    tables.write_table_metadata(runs, args.out)
    counts = {
        str(samples): (int(group["n_train"].iloc[0]), int(group["n_test"].iloc[0]), int(group["repeat"].nunique()))
        for samples, group in runs.groupby("samples")
    }
    figures.plot_accuracy(table, args.classifiers, args.figure, args.title, counts)
    return 0


def _metrics(args: argparse.Namespace) -> int:
    from unmask.analyses import tables

    write_csv(tables.metrics_table(tables.read_runs(args.predictions), args.dataset), args.out)
    return 0


def _videos_table(args: argparse.Namespace) -> int:
    from unmask.analyses import tables

    predictions = tables.read_runs(args.predictions)
    write_csv(tables.video_table(predictions, args.classifiers, args.threshold), args.out)
    return 0


def _crops_figure(args: argparse.Namespace) -> int:
    from unmask.analyses import figures

    figures.plot_crops(args.manifest, args.figure, args.title)
    return 0


def _spectra(args: argparse.Namespace) -> int:
    from unmask.analyses import figures

    figures.plot_spectra(args.features, args.manifest, args.variant, args.figure, args.title)
    return 0


def _rejects(args: argparse.Namespace) -> int:
    from unmask.analyses import tables

    rejects = tables.collect_rejects(args.manifest, args.manifest_rejects, args.features)
    write_csv(rejects, args.out)
    logger.info(f"rejects: {len(rejects)} files rejected")
    return 0


def _robustness_table(args: argparse.Namespace) -> int:
    from unmask.analyses import figures, tables

    table = tables.robustness_table(tables.read_runs(args.runs))
    write_csv(table, args.out)
    figures.plot_robustness(table, args.figure, args.title)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's sub-commands (named in its docstring) to ``unmask``."""
    command = commands.add_parser("table", description="the accuracy table and its figure (workflow stage)")
    command.add_argument("runs", nargs="+", help="per-repeat results")
    command.add_argument("--classifiers", nargs="+", required=True, help="the table's columns, in order")
    command.add_argument("--title", required=True, help="the dataset's name, in the figure title")
    command.add_argument("--out", required=True, help="the accuracy table (CSV, with a .json beside it)")
    command.add_argument("--figure", required=True, help="accuracy against samples (PNG, with an SVG beside it)")
    command.set_defaults(run=_table)

    command = commands.add_parser("metrics", description="every metric of every fit, over repeats (workflow stage)")
    command.add_argument("predictions", nargs="+", help="per-item test predictions")
    command.add_argument("--dataset", required=True, help="the dataset's name, a column of the table")
    command.add_argument("--out", required=True, help="the metrics table (CSV)")
    command.set_defaults(run=_metrics)

    command = commands.add_parser("videos-table", description="video-level accuracy by majority vote (workflow stage)")
    command.add_argument("predictions", nargs="+", help="per-frame test predictions")
    command.add_argument("--classifiers", nargs="+", required=True, help="the table's classifiers, in order")
    command.add_argument(
        "--threshold",
        type=float,
        required=True,
        help="fraction of fake frames that makes a video fake",
    )
    command.add_argument("--out", required=True, help="the video table (CSV)")
    command.set_defaults(run=_videos_table)

    command = commands.add_parser("crops-figure", description="example face crops per class (workflow stage)")
    command.add_argument("--manifest", required=True, help="the dataset's manifest (Parquet)")
    command.add_argument("--title", required=True, help="the dataset's name, in the figure title")
    command.add_argument("--figure", required=True, help="the figure (PNG)")
    command.set_defaults(run=_crops_figure)

    command = commands.add_parser("spectra", description="mean +- std spectrum per source (workflow stage)")
    command.add_argument("features", nargs="+", help="feature shards")
    command.add_argument("--manifest", required=True, help="the dataset's manifest (Parquet): the images' sizes")
    command.add_argument("--variant", required=True, help="the feature variant of the shards")
    command.add_argument("--title", required=True, help="the dataset's name, in the figure title")
    command.add_argument("--figure", required=True, help="the figure (PNG, with an SVG beside it)")
    command.set_defaults(run=_spectra)

    command = commands.add_parser("rejects", description="every rejected file with its reason (workflow stage)")
    command.add_argument("features", nargs="+", help="feature shards")
    command.add_argument("--manifest", required=True, help="the dataset's manifest (Parquet)")
    command.add_argument("--manifest-rejects", required=True, help="the files the manifest rejected (Parquet)")
    command.add_argument("--out", required=True, help="every rejected file with its reason (CSV)")
    command.set_defaults(run=_rejects)

    command = commands.add_parser(
        "robustness-table", description="the robustness table and its figure (workflow stage)"
    )
    command.add_argument("runs", nargs="+", help="per-repeat robustness results")
    command.add_argument("--title", required=True, help="the dataset's name, in the figure title")
    command.add_argument("--out", required=True, help="the robustness table (CSV)")
    command.add_argument("--figure", required=True, help="accuracy per perturbation (PNG)")
    command.set_defaults(run=_robustness_table)
