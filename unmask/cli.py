"""The ``unmask`` command: one sub-command per stage, each defined in ``unmask/commands/``."""
from __future__ import annotations

import argparse
import sys

from unmask.commands import (
    acquire,
    audit,
    crops,
    features,
    generalisation,
    manifest,
    model,
    predict,
    report,
    robustness,
    spectrum,
    train,
)

# In the order of `unmask --help`: the user's commands, then the workflow's stages in the order they run.
COMMANDS = [spectrum, predict, acquire, manifest, crops, features, train, model, report, audit, robustness, generalisation]


def build_parser() -> argparse.ArgumentParser:
    """The ``unmask`` argument parser with one sub-command per stage."""
    parser = argparse.ArgumentParser(prog="unmask", description="Spectral deepfake detection (Durall et al. 2019).")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``unmask`` command."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as error:
        print(f"unmask {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
