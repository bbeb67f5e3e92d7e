"""File lists: what an acquisition brought in, one row per file (path, size, sha256).

A path is written as its bytes, so that a name that is not UTF-8 (an archive member named in Latin-1) is
kept, and left to the manifest's listing to reject with its reason.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from unmask.io import atomic_output, file_digest

FILE_LIST_FIELDS = ("path", "size", "sha256")


def write_file_list(paths: list[Path], file_list: Path) -> None:
    """A TSV of path, size in bytes and sha256 per file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(FILE_LIST_FIELDS)
    for path in paths:
        writer.writerow((str(path), path.stat().st_size, file_digest(path)))
    with atomic_output(file_list) as tmp:
        tmp.write_text(buffer.getvalue(), encoding="utf-8", errors="surrogateescape")


def read_file_list(file_list: Path) -> list[dict[str, Any]]:
    """Rows of a file list written by ``write_file_list``."""
    with open(file_list, newline="", encoding="utf-8", errors="surrogateescape") as f:
        return list(csv.DictReader(f, delimiter="\t"))
