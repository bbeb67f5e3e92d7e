"""File lists: what an acquisition brought in, one row per file (path, size, sha256)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from unmask.io import file_digest, write_text

FILE_LIST_FIELDS = ("path", "size", "sha256")


def write_file_list(paths: list[Path], file_list: Path) -> None:
    """A TSV of path, size in bytes and sha256 per file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(FILE_LIST_FIELDS)
    for path in paths:
        writer.writerow((str(path), path.stat().st_size, file_digest(path)))
    write_text(file_list, buffer.getvalue())


def read_file_list(file_list: Path) -> list[dict]:
    """Rows of a file list written by ``write_file_list``."""
    with open(file_list, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))
