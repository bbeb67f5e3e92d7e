"""FFHQ images listed in NVlabs' ``ffhq-dataset-v2.json``, converted to JPEG as the paper did.

The first ``count`` records from ``start`` are fetched as ``images1024x1024/%05d/%05d.png``, checked against the
JSON's size and md5, and written as ``jpeg_q<quality>/%05d.jpg`` (the encoder recorded in ``conversion.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2

from unmask.data.acquire.download import Downloader, DownloadError, Item, Options
from unmask.data.acquire.google_drive import drive_url, rebase
from unmask.data.images import write_image
from unmask.io import write_text

JSON_DRIVE_ID = "16N0RV4fHI6joBuKbQAoG34V_cQk7vxSA"
JSON_SIZE = 267_793_842
JSON_MD5 = "425ae20f06a4da1d4dc0f46d40ba5fd6"
JSON_NAME = "ffhq-dataset-v2.json"
JPEG_QUALITY = 95


def acquire(spec: dict[str, Any], dest: Path) -> list[Path]:
    """Fetch the JSON, then the selected PNGs, converting each to JPEG; return the images."""
    downloader, base = Downloader(Options.from_spec(spec)), spec.get("drive_base")
    json_url = spec.get("json_url") or drive_url(spec.get("json_drive_id", JSON_DRIVE_ID), base)
    json_item = Item(json_url, dest / JSON_NAME, spec.get("json_size", JSON_SIZE), spec.get("json_md5", JSON_MD5))
    downloader.fetch_all([json_item], dest).check()
    records = json.loads(json_item.dest.read_text())
    quality, keep_png = spec.get("jpeg_quality", JPEG_QUALITY), spec.get("keep_png", False)
    jpeg_dir = dest / f"jpeg_q{quality}"
    outputs, items, jpegs = [], [], {}
    for index, image in select(records, spec.get("start", 0), spec.get("count", 10_000), spec.get("category")):
        png = dest / image["file_path"]
        outputs.append(png if quality is None else jpeg_dir / f"{index:05d}.jpg")
        if quality is None or not outputs[-1].is_file() or (keep_png and not png.is_file()):
            url = spec["image_url"].format(**image) if spec.get("image_url") else rebase(image["file_url"], base)
            items.append(Item(url, png, image["file_size"], image["file_md5"]))
            jpegs[png] = outputs[-1]
    if quality is not None:
        encoder = {"source": "FFHQ PNG", "quality": quality, "encoder": f"opencv {cv2.__version__}"}
        write_text(jpeg_dir / "conversion.json", json.dumps(encoder) + "\n")

    def to_jpeg(item: Item) -> None:
        image = cv2.imread(str(item.dest), cv2.IMREAD_COLOR)
        if image is None:
            raise DownloadError(f"{item.dest}: cannot convert to JPEG (not a decodable image)")
        write_image(jpegs[item.dest], image, quality=quality)
        if not keep_png:
            item.dest.unlink()

    downloader.fetch_all(items, dest, on_done=None if quality is None else to_jpeg).check()
    return outputs


def select(records: dict[str, Any], start: int, count: int, category: str | None) -> list[tuple[int, dict[str, Any]]]:
    """The first ``count`` (index, image) pairs with index >= ``start`` in ``category``."""
    chosen = sorted((int(k), v) for k, v in records.items() if int(k) >= start and category in (None, v["category"]))
    return [(index, record["image"]) for index, record in chosen[:count]]
