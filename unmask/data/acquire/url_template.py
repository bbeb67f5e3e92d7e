"""Files named by a URL template over an index range (100K Faces), each saved under its URL's base name.

Indices that answer 404 are skipped and recorded in ``missing.tsv`` (index, url), so later runs do not ask again.
"""

from __future__ import annotations

import csv
import logging
import posixpath
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from unmask.data.acquire.download import Downloader, Item, Options
from unmask.io import write_text

log = logging.getLogger(__name__)

TEMPLATE = "https://raw.githubusercontent.com/ozgrozer/100k-faces/master/docs/0/{d}/{i:06d}.jpg"
MISSING = "missing.tsv"


def acquire(spec: dict[str, Any], dest: Path) -> list[Path]:
    """Download every index's file not yet present; return the files that exist."""
    template = spec.get("template", TEMPLATE)
    start, count, group = spec.get("start", 0), spec.get("count", 10_000), spec.get("group", 1000)
    urls = {i: template.format(i=i, d=i // group) for i in range(start, start + count)}
    items = {i: Item(url, dest / posixpath.basename(urlsplit(url).path)) for i, url in urls.items()}
    if len({item.dest for item in items.values()}) != len(items):
        raise ValueError(f"template {template!r} gives the same file name to different indices")
    missing = {}
    if (dest / MISSING).exists():
        with open(dest / MISSING, newline="") as f:
            missing = {int(row["index"]): row["url"] for row in csv.DictReader(f, delimiter="\t")}
    wanted = [item for i, item in items.items() if missing.get(i) != item.url]
    summary = Downloader(Options.from_spec(spec)).fetch_all(wanted, dest)
    not_found = {e.url for _, e in summary.failed if e.status == 404}
    missing.update({i: url for i, url in urls.items() if url in not_found})
    if in_range := [i for i, url in urls.items() if missing.get(i) == url]:
        write_text(dest / MISSING, "index\turl\n" + "".join(f"{i}\t{url}\n" for i, url in sorted(missing.items())))
        log.warning(
            "url_template: %d of %d indices missing (HTTP 404), listed in %s", len(in_range), count, dest / MISSING
        )
    summary.check(ignore=lambda e: e.status == 404)
    return [item.dest for item in items.values() if item.dest.is_file()]
