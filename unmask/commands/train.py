"""``unmask train``: repeated fits of one classifier at one size (workflow stage)."""

from __future__ import annotations

import argparse
import json


def _train(args: argparse.Namespace) -> int:
    from unmask.io import write_parquet
    from unmask.learn.protocol import load_features, run_repeats

    data = load_features(args.features)
    runs, predictions = run_repeats(
        data, args.name, json.loads(args.spec), args.samples, args.repeats, args.test_fraction, args.seed
    )
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
    command.add_argument("--repeats", type=int, required=True, help="number of repeated draws and fits")
    command.add_argument("--test-fraction", type=float, required=True, help="fraction of a repeat's items tested")
    command.add_argument("--seed", type=int, required=True, help="seed of the draws and fits")
    command.add_argument("--out", required=True, help="per-repeat results")
    command.add_argument("--predictions", required=True, help="per-item test predictions")
    command.set_defaults(run=_train)
