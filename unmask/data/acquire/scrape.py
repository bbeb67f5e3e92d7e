"""Distinct images from a page that answers each GET with a new one (thispersondoesnotexist.com).

Spec keys: ``url`` (default below), ``count`` (10,000 distinct images),
``delay`` (2.0 s at least between requests: the site repeats an image when
asked too fast), ``image_size`` (side or [width, height], default 1024),
``max_attempts`` (default ``2 * count + 10``), ``download``.
Requests are sequential and carry the unmask User-Agent. Images are kept as
``<sha256[:16]>.jpg``; repeats (same sha256), non-JPEG or wrongly sized
answers are discarded. Files already in ``dest`` are checked and counted.
"""
from __future__ import annotations

import hashlib
import re
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from unmask.data.acquire.download import (
    DownloadError,
    Downloader,
    NetworkUnavailable,
    Options,
    Progress,
    with_local_advice,
)
from unmask.io import atomic_output, file_digest

URL = "https://thispersondoesnotexist.com/"
PREFIX_LEN = 16  # hex digits of the sha256 in a file name


def acquire(spec: dict, dest: Path) -> list[Path]:
    """GET ``url`` until ``count`` distinct valid images are in ``dest``; return them."""
    url, count = spec.get("url", URL), spec.get("count", 10_000)
    delay = spec.get("delay", 2.0)
    size = spec.get("image_size", 1024)
    size = (size, size) if isinstance(size, int) else tuple(size)
    max_attempts = spec.get("max_attempts", 2 * count + 10)
    options = Options.from_spec(spec, host_interval=delay)
    downloader = Downloader(replace(options, host_interval=max(options.host_interval, delay)))
    dest.mkdir(parents=True, exist_ok=True)
    files = _existing(dest, size)
    progress = Progress("scrape", count, downloader.options.progress_interval, ("saved",))
    outcomes: Counter[str] = Counter()
    while len(files) < count:
        if outcomes.total() >= max_attempts:
            raise DownloadError(f"{url}: only {len(files)} of {count} distinct images after "
                                f"{max_attempts} requests ({_describe(outcomes)}); "
                                f"raise `max_attempts` or `delay`", url)
        try:
            body = downloader.get(url)
        except NetworkUnavailable as e:
            raise with_local_advice(e, dest) from None
        digest = hashlib.sha256(body).hexdigest()
        problem = _problem(body, size)
        outcome = problem or ("repeat" if digest in files else "saved")
        outcomes[outcome] += 1
        progress.add(outcome, len(body))
        if outcome == "saved":
            with atomic_output(dest / f"{digest[:PREFIX_LEN]}.jpg") as tmp:
                tmp.write_bytes(body)
            files[digest] = dest / f"{digest[:PREFIX_LEN]}.jpg"
    already = len(files) - outcomes["saved"]
    print(f"scrape summary: {outcomes['saved']} new, {already} already present, "
          f"{outcomes.total()} requests ({_describe(outcomes)})", file=sys.stderr)
    return sorted(files.values())[:count]


def _existing(dest: Path, size: tuple[int, int]) -> dict[str, Path]:
    """Valid images that earlier runs saved, by sha256; remove those of ours that fail the checks.

    Only files named as this method names them are considered; anything else
    in the folder is left alone.
    """
    files = {}
    for path in sorted(dest.glob("*.jpg")):
        if not re.fullmatch(f"[0-9a-f]{{{PREFIX_LEN}}}", path.stem):
            continue
        digest = file_digest(path)
        problem = "content does not match its name" if path.stem != digest[:PREFIX_LEN] else _problem(path.read_bytes(), size)
        if problem:
            print(f"{path}: {problem}; removing it", file=sys.stderr)
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
    if (image.shape[1], image.shape[0]) != size:
        return "wrong size"
    return None


def _describe(outcomes: Counter) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(outcomes.items()))
