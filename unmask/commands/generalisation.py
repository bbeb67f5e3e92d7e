"""``unmask cross-source``, ``unmask leave-one-out`` and ``unmask cross-dataset``: generalisation matrices (workflow stages)."""

from __future__ import annotations

import argparse
import json
import logging

from unmask.commands import PROTOCOL_HELP
from unmask.io import write_csv

logger = logging.getLogger(__name__)


def _matrix(args: argparse.Namespace, analysis: str, columns: list[str], build, plot) -> int:
    """A generalisation table and figure; with fewer than two usable fake sources, a warning, a table without
    rows and a figure that says why, so that the rest of the run (tables, models) is built."""
    import pandas as pd

    from unmask.analyses import figures, generalisation
    from unmask.learn.protocol import Protocol, load_features

    title, protocol = f"{args.title}: {analysis}", Protocol.from_json(args.protocol)
    try:
        table = build(load_features(args.features), **json.loads(args.spec), protocol=protocol)
    except generalisation.TooFewSources as error:
        logger.warning(f"{args.title}: {analysis} skipped: {error}")
        write_csv(pd.DataFrame(columns=columns), args.out)
        figures.plot_message(f"skipped: {error}", args.figure, title)
        return 0
    write_csv(table, args.out)
    plot(table, args.figure, title)
    return 0


def _cross_source(args: argparse.Namespace) -> int:
    from unmask.analyses import figures, generalisation

    columns = ["train_source", "test_source", "classifier", "metric", "mean", "std", "repeats"]
    return _matrix(
        args,
        "cross-source",
        columns,
        generalisation.cross_source_table,
        lambda table, figure, title: figures.plot_matrices(table, "train_source", "test_source", figure, title),
    )


def _leave_one_out(args: argparse.Namespace) -> int:
    from unmask.analyses import figures, generalisation

    columns = ["held_out_source", "classifier", "metric", "mean", "std", "ci_low", "ci_high", "repeats"]
    return _matrix(
        args,
        "leave one generator out",
        columns,
        generalisation.leave_one_out_table,
        figures.plot_leave_one_out,
    )


def _cross_dataset(args: argparse.Namespace) -> int:
    from unmask.analyses import figures, generalisation

    table = generalisation.cross_dataset_table(generalisation.load_members(json.loads(args.spec)))
    write_csv(table, args.out)
    figures.plot_matrices(table, "train_dataset", "test_dataset", args.figure, "cross-dataset")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's sub-commands (named in its docstring) to ``unmask``."""
    command = commands.add_parser("cross-source", description="train on one fake source, test on each (workflow stage)")
    command.add_argument("features", nargs="+", help="feature shards")
    command.add_argument(
        "--spec",
        required=True,
        help='JSON: {"classifiers": {...}, "size": N}',
    )
    command.add_argument("--protocol", required=True, help=PROTOCOL_HELP)
    command.add_argument("--title", required=True, help="the dataset's name, in the figure title")
    command.add_argument("--out", required=True, help="one row per train and test source (CSV)")
    command.add_argument("--figure", required=True, help="the accuracy matrices (PNG)")
    command.set_defaults(run=_cross_source)

    command = commands.add_parser(
        "leave-one-out", description="train on every fake source but one, test on that one (workflow stage)"
    )
    command.add_argument("features", nargs="+", help="feature shards")
    command.add_argument("--spec", required=True, help="JSON, as for cross-source")
    command.add_argument("--protocol", required=True, help=PROTOCOL_HELP)
    command.add_argument("--title", required=True, help="the dataset's name, in the figure title")
    command.add_argument("--out", required=True, help="one row per held-out source, classifier and metric (CSV)")
    command.add_argument("--figure", required=True, help="the matrices of accuracy, AUC and TPR at 1%% FPR (PNG)")
    command.set_defaults(run=_leave_one_out)

    command = commands.add_parser("cross-dataset", description="train on one dataset, test on each (workflow stage)")
    command.add_argument(
        "--spec",
        required=True,
        help='JSON: {dataset: {"features": [...], "variant": V, "classifiers": {...}, "size": N, "protocol": {...}}}',
    )
    command.add_argument("--out", required=True, help="one row per train and test dataset (CSV)")
    command.add_argument("--figure", required=True, help="the accuracy matrices (PNG)")
    command.set_defaults(run=_cross_dataset)
