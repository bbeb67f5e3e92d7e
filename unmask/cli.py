"""The ``unmask`` command: the user's commands, and the workflow's stages (hidden from ``unmask --help``).

Each command is defined in ``unmask/commands/``. Logging is set up here, once, for every command.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap

from unmask.commands import (
    acquire,
    audit,
    crops,
    families,
    features,
    generalisation,
    manifest,
    model,
    pages,
    predict,
    report,
    robustness,
    spectrum,
    train,
)
from unmask.log import setup_logging

log = logging.getLogger(__name__)

USER_COMMANDS = [spectrum, predict]
# The workflow's stages in the order they run; rules call them, their sub-parsers carry no help= so stay unlisted.
STAGE_COMMANDS = [
    acquire,
    manifest,
    crops,
    features,
    families,
    train,
    model,
    report,
    audit,
    robustness,
    generalisation,
    pages,
]


def build_parser() -> argparse.ArgumentParser:
    """The ``unmask`` argument parser: the user commands listed, the stage commands named in the epilog only."""
    parser = argparse.ArgumentParser(
        prog="unmask",
        description="Spectral deepfake detection (Durall et al. 2019).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, title="commands")
    for command in USER_COMMANDS:
        command.register(commands)
    user_names = list(commands.choices)
    for name in user_names:
        add_verbosity_options(commands.choices[name])
    for command in STAGE_COMMANDS:
        command.register(commands)
    commands.metavar = "{" + ",".join(user_names) + "}"
    stage_names = [name for name in commands.choices if name not in user_names]
    stages = textwrap.fill(f"Workflow stages (run by Snakemake): {', '.join(stage_names)}.", 79, break_on_hyphens=False)
    parser.epilog = f"{stages}\nSee `unmask <stage> --help` for one."
    return parser


def add_verbosity_options(command: argparse.ArgumentParser) -> None:
    """``-v/--verbose`` and ``-q/--quiet``, each counted."""
    command.add_argument("-v", "--verbose", action="count", default=0, help="log debug lines too")
    command.add_argument("-q", "--quiet", action="count", default=0, help="log warnings and errors only")


def verbosity(args: argparse.Namespace) -> int:
    """``-v`` count minus ``-q`` count; 0 for the stage commands, which have neither."""
    return getattr(args, "verbose", 0) - getattr(args, "quiet", 0)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``unmask`` command."""
    args = build_parser().parse_args(argv)
    setup_logging(verbosity(args))
    if sys.stdout is None and args.command in {command.__name__.rpartition(".")[2] for command in USER_COMMANDS}:
        log.error("unmask %s: standard output is closed: nowhere to write the results", args.command)
        return 2
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError) as error:
        log.error("unmask %s: %s", args.command, error)
        return 2
    except BrokenPipeError:  # the reader left (`unmask predict ... | head -1`): stop quietly, as Python's docs advise
        _silence_stdout()
        return 1
    except OSError as error:  # writing an output failed, e.g. a full disk
        _silence_stdout()
        log.error("unmask %s: %s", args.command, error)
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that flushing what is left of it at exit raises nothing more."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # no stdout, or one without a file descriptor (a test's capture)
        pass


if __name__ == "__main__":
    sys.exit(main())
