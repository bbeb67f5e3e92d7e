"""Acquisition: bring a source's files into its folder and list them.

Each method is a module ``unmask.data.acquire.<method>`` with a function
``acquire(spec: dict, dest: Path) -> list[Path]`` that places the source's
files under ``dest`` (resuming from what is already there) and returns them.
``acquire_source`` then writes the file list (path, size, sha256) that the
workflow's manifest stage reads.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

from unmask.data.acquire.download import NetworkUnavailable
from unmask.data.file_list import write_file_list
from unmask.data.images import list_images

log = logging.getLogger(__name__)


def acquire_source(spec: dict, dest: Path, file_list: Path) -> list[Path]:
    """Run the source's acquisition method, then write its file list atomically.

    When the network is unreachable and the source's folder already holds
    images, those are used as a local source, with a message saying so.
    """
    method = spec["method"]
    try:
        module = importlib.import_module(f"unmask.data.acquire.{method}")
    except ModuleNotFoundError:
        raise ValueError(f"unknown acquisition method {method!r}") from None
    try:
        paths = sorted(Path(p) for p in module.acquire(spec, Path(dest)))
    except NetworkUnavailable as error:
        paths = list_images(dest) if Path(dest).is_dir() else []
        if not paths:
            raise
        log.warning("%s\nUsing the %d images already in %s instead, as a local source.", error, len(paths), dest)
    write_file_list(paths, file_list)
    return paths
