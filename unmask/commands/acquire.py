"""``unmask acquire``: bring a source's files into place (workflow stage)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def _acquire(args: argparse.Namespace) -> int:
    from unmask.data.acquire import acquire_source
    from unmask.data.acquire.download import DownloadError

    spec = json.loads(args.spec)
    try:
        paths = acquire_source(spec, Path(spec["path"]), Path(args.out))
    except DownloadError as error:  # the message says it all: no traceback in the job's log
        log.error("%s", error)
        return 1
    log.info("acquire: %d files in %s", len(paths), spec["path"])
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``unmask acquire`` to the ``unmask`` sub-commands."""
    command = commands.add_parser(
        "acquire", description="bring a source's files into place and list them (workflow stage)"
    )
    command.add_argument("--spec", required=True, help="the source's configuration as JSON")
    command.add_argument("--out", required=True, help="file list (TSV) to write")
    command.set_defaults(run=_acquire)
