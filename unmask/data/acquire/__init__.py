"""Acquisition: bring a source's files into its folder and list them.

Each method is a module ``unmask.data.acquire.<method>`` whose ``acquire(spec, dest) -> list[Path]`` places
the source's files under ``dest`` (resuming from what is there) and returns them. The spec's keys, per method,
are in ``workflow/schemas/config.schema.yaml``.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from unmask.data.acquire.download import NetworkUnavailable
from unmask.data.file_list import write_file_list
from unmask.data.images import list_images

log = logging.getLogger(__name__)


def acquire_source(spec: dict[str, Any], dest: Path, file_list: Path) -> list[Path]:
    """Run the source's method, then write its file list (path, size, sha256) for the manifest stage.

    When the network is unreachable and ``dest`` already holds images, those are used as a local source.
    """
    try:
        module = importlib.import_module(f"unmask.data.acquire.{spec['method']}")
    except ModuleNotFoundError:
        raise ValueError(f"unknown acquisition method {spec['method']!r}") from None
    try:
        paths = sorted(Path(p) for p in module.acquire(spec, Path(dest)))
    except NetworkUnavailable as error:
        if not (paths := list_images(dest) if Path(dest).is_dir() else []):
            raise
        log.warning("%s\nUsing the %d images already in %s instead, as a local source.", error, len(paths), dest)
    write_file_list(paths, file_list)
    return paths
