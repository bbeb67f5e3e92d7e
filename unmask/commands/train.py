"""``unmask train``: repeated fits of one classifier at one size (workflow stage)."""

from __future__ import annotations

import argparse
import json

from unmask.commands import PROTOCOL_HELP


def _train(args: argparse.Namespace) -> int:
    from unmask.io import write_parquet
    from unmask.learn.protocol import Protocol, load_features, run_repeats

    protocol = Protocol.from_json(args.protocol)
    data = load_features(args.features)
    runs, predictions = run_repeats(data, args.name, json.loads(args.spec), args.samples, protocol)
    write_parquet(runs, args.out)
    write_parquet(predictions, args.predictions)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``unmask train`` to the ``unmask`` sub-commands."""
    command = commands.add_parser("train", description="repeated fits of one classifier at one size (workflow stage)")
    command.add_argument("features", nargs="+", help="feature shards")
    command.add_argument("--name", required=True, help="the classifier's name in the configuration")
    command.add_argument("--spec", required=True, help="classifier configuration as JSON")
    command.add_argument("--samples", required=True, help='a number, or "all" (the largest class-balanced sample)')
    command.add_argument("--protocol", required=True, help=PROTOCOL_HELP)
    command.add_argument("--out", required=True, help="per-repeat results")
    command.add_argument("--predictions", required=True, help="per-item test predictions")
    command.set_defaults(run=_train)
