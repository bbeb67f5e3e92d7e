"""``unmask acquire``: bring a source's files into place (workflow stage)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _acquire(args: argparse.Namespace) -> int:
    from unmask.data.acquire import acquire_source

    spec = json.loads(args.spec)
    paths = acquire_source(spec, Path(spec["path"]), Path(args.out))
    print(f"acquire: {len(paths)} files in {spec['path']}", file=sys.stderr)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``unmask acquire`` to the ``unmask`` sub-commands."""
    command = commands.add_parser("acquire", help="bring a source's files into place and list them (workflow stage)")
    command.add_argument("--spec", required=True, help="the source's configuration as JSON")
    command.add_argument("--out", required=True, help="file list (TSV) to write")
    command.set_defaults(run=_acquire)
