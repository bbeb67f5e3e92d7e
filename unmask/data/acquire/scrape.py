"""Distinct images from a page that answers each GET with a new one (thispersondoesnotexist.com).

Requests are sequential and paced. Images are kept as ``<sha256[:16]>.jpg``; repeats, non-JPEG and wrongly
sized answers are discarded, and files already in the folder are checked and counted.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from unmask.data.acquire.download import Downloader, DownloadError, NetworkUnavailable, Options
from unmask.io import atomic_output
from unmask.log import progress

log = logging.getLogger(__name__)

URL = "https://thispersondoesnotexist.com/"
PREFIX_LEN = 16  # hex digits of the sha256 in a file name


def acquire(spec: dict[str, Any], dest: Path) -> list[Path]:
    """GET ``url`` until ``count`` distinct valid images are in ``dest``; return them."""
    url, count, delay = spec.get("url", URL), spec.get("count", 10_000), spec.get("delay", 2.0)
    size = spec.get("image_size", 1024)
    size = (size, size) if isinstance(size, int) else tuple(size)
    max_attempts = spec.get("max_attempts", 2 * count + 10)
    options = Options.from_spec(spec)
    downloader = Downloader(replace(options, host_interval=max(options.host_interval, delay)))
    files, outcomes = _existing(dest, size), Counter[str]()
    interval = options.progress_interval
    with progress(total=count, initial=len(files), unit="image", desc="scrape", interval=interval) as bar:
        while len(files) < count:
            if outcomes.total() >= max_attempts:
                raise DownloadError(
                    f"{url}: only {len(files)} of {count} distinct images after {max_attempts} requests "
                    f"({_describe(outcomes)}); raise `max_attempts` or `delay`",
                    url,
                )
            try:
                body = downloader.get(url)
            except NetworkUnavailable as e:
                raise e.with_local_advice(dest) from None
            digest = hashlib.sha256(body).hexdigest()
            outcome = _problem(body, size) or ("repeat" if digest in files else "saved")
            outcomes[outcome] += 1
            bar.set_postfix_str(_describe(outcomes))
            if outcome == "saved":
                files[digest] = dest / f"{digest[:PREFIX_LEN]}.jpg"
                with atomic_output(files[digest]) as tmp:
                    tmp.write_bytes(body)
                bar.update()
    new = outcomes["saved"]
    log.info(
        "scrape summary: %d new, %d already present, %d requests (%s)",
        new,
        len(files) - new,
        outcomes.total(),
        _describe(outcomes),
    )
    return sorted(files.values())[:count]


def _existing(dest: Path, size: tuple[int, int]) -> dict[str, Path]:
    """Valid images that earlier runs saved, by sha256; those of ours that fail the checks are removed.

    Only files named as this method names them are considered; anything else in the folder is left alone.
    """
    files = {}
    for path in sorted(dest.glob("*.jpg")):
        if re.fullmatch(f"[0-9a-f]{{{PREFIX_LEN}}}", path.stem):
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()
            problem = _problem(body, size) if digest.startswith(path.stem) else "content does not match its name"
            if problem:
                log.warning("%s: %s; removing it", path, problem)
                path.unlink()
            else:
                files[digest] = path
    return files


def _problem(body: bytes, size: tuple[int, int]) -> str | None:
    """Why ``body`` is not a decodable JPEG of ``size`` (width, height), or None."""
    if not body.startswith(b"\xff\xd8"):
        return "not JPEG"
    image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        return "undecodable"
    return None if (image.shape[1], image.shape[0]) == size else "wrong size"


def _describe(outcomes: Counter[str]) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(outcomes.items()))
