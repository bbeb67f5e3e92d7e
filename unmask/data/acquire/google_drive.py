"""Files by Google Drive id (``files: [{id, name, size?, md5?, sha256?}]``); the Drive URL helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unmask import IMAGE_SUFFIXES
from unmask.data.acquire.download import Downloader, Item, Options

DRIVE_BASE = "https://drive.google.com"


def drive_url(file_id: str, base: str | None = None) -> str:
    """The direct-download URL of a Drive file id."""
    return f"{(base or DRIVE_BASE).rstrip('/')}/uc?export=download&id={file_id}"


def rebase(url: str, base: str | None) -> str:
    """``url`` with the Drive origin replaced by ``base`` (unchanged if not a Drive URL)."""
    return base.rstrip("/") + url[len(DRIVE_BASE) :] if base and url.startswith(DRIVE_BASE + "/") else url


def source_url(spec: dict[str, Any]) -> str:
    """A spec's ``url``, else the download URL of its ``drive_id``."""
    if not (spec.get("url") or spec.get("drive_id")):
        raise ValueError("source needs a `url` or a `drive_id`")
    return spec.get("url") or drive_url(spec["drive_id"], spec.get("drive_base"))


def acquire(spec: dict[str, Any], dest: Path) -> list[Path]:
    """Download the listed Drive files into ``dest``; return the images among them."""
    base = spec.get("drive_base")
    items = [
        Item(drive_url(f["id"], base), dest / f["name"], f.get("size"), f.get("md5"), f.get("sha256"))
        for f in spec["files"]
    ]
    Downloader(Options.from_spec(spec)).fetch_all(items, dest).check()
    return [item.dest for item in items if item.dest.suffix.lower() in IMAGE_SUFFIXES]
