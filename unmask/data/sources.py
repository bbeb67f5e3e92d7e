"""What an image source offers the manifest and the crop stage: its candidate items, and the rows of the
entries its listing skipped."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from unmask import IMAGE_SUFFIXES
from unmask.data.file_list import read_file_list
from unmask.data.sampling import sample_paths
from unmask.io import scan_files


@dataclass(frozen=True)
class Candidate:
    """An image that may enter the manifest: a file, or a face crop of a photo or of one video frame."""

    id: str
    path: Path
    group: str
    video: str | None = None
    frame: int | None = None
    crop: dict[str, Any] | None = None  # for face crops: original, crop_x, crop_y, crop_size, detector


def image_candidates(name: str, source: dict[str, Any], seed: int) -> tuple[list[Candidate], list[dict[str, Any]]]:
    """The selected images of a local folder or an acquired file list (each image its own group), and as
    rejects the entries a folder's listing skipped and the files whose names are not UTF-8 text."""
    root = Path(source["path"])
    if "file_list" in source:
        listed, skipped = [Path(row["path"]) for row in read_file_list(Path(source["file_list"]))], []
    else:
        listing = scan_files(root, IMAGE_SUFFIXES)
        listed, skipped = listing.files, listing.skipped
    untextual = {path for path in listed if _as_text(path) != str(path)}
    paths = [path for path in listed if path not in untextual]
    rejects = []
    for path, reason in sorted(skipped + [(path, NOT_TEXT) for path in untextual]):
        shown = Path(_as_text(path))
        rejects.append(reject_row(_item_id(name, shown, root), shown, name, "listing", _as_text(reason)))
    candidates = []
    for path in sample_paths(paths, root, source.get("count"), seed):
        item_id = _item_id(name, path, root)
        candidates.append(Candidate(item_id, path, group=item_id))
    return candidates, rejects


NOT_TEXT = "file name is not UTF-8 text (rename it)"


def _as_text(path: str | Path) -> str:
    """``path`` as text, with the bytes of a name that is not UTF-8 written as \\xNN (Parquet and CSV hold text)."""
    return os.fsencode(path).decode(errors="backslashreplace")


def reject_row(item_id: str, path: str | Path, source: str, stage: str, reason: str) -> dict[str, Any]:
    """A row of the rejects table."""
    return {"id": item_id, "path": str(path), "source": source, "stage": stage, "reason": reason}


def _item_id(name: str, path: Path, root: Path) -> str:
    """``<source>/<path under the source folder>`` (or the file name, outside it)."""
    text, prefix = path.as_posix(), root.as_posix().rstrip("/") + "/"
    if text.startswith(prefix):  # the usual case, without pathlib's cost (seconds at 40k files)
        return f"{name}/{text[len(prefix) :]}"
    return f"{name}/{path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name}"
