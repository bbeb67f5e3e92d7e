"""HTTP downloads shared by the acquisition methods.

Each file streams to ``<name>.part`` and is renamed to its final name only
after its size and checksums check out, so a failed download never leaves a
file under its final name. A partial file resumes with an HTTP Range request
(206 appends, 200 starts over). Connection errors, timeouts, truncated
bodies, 5xx and 429 are retried with exponential backoff (``Retry-After`` is
honoured). Files download in a thread pool with a per-host minimum interval
between requests; progress and a summary go to stderr. Google Drive's
interstitial pages (confirm token, virus-scan form, quota exceeded) are
handled in ``_drive_next_url``.

Only the standard library is used (urllib, with redirects and cookies).
"""
from __future__ import annotations

import email.utils
import errno
import html
import http.client
import http.cookiejar
import os
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable, Iterable
from urllib.parse import urlencode, urljoin, urlsplit

from unmask.io import file_digest

USER_AGENT = "unmask/0.1 (reproduction of Durall et al. 2019; Python urllib)"
CHUNK = 1 << 16
MAX_PAGE = 1 << 20  # an interstitial HTML page is read whole up to this size
MAX_HOPS = 3  # interstitial pages followed per request
UNREACHABLE_ERRNOS = {errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH}


class DownloadError(Exception):
    """A download failed; the message names the URL or file and the problem."""

    def __init__(self, message: str, url: str | None = None, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.status = status


class NetworkUnavailable(DownloadError):
    """Every attempt failed to connect (refused, DNS failure, unreachable)."""


def with_local_advice(error: NetworkUnavailable, folder: Path) -> NetworkUnavailable:
    """``error`` extended with the advice to fill ``folder`` by hand and use ``method: local``."""
    return NetworkUnavailable(f"{error}\nThe network seems unavailable. Put this source's files "
                              f"in {folder} yourself and set `method: local` for it.", error.url)


class DriveQuotaExceeded(DownloadError):
    """Google Drive refused the file: its download quota is exhausted."""


@dataclass(frozen=True)
class Item:
    """One file to download, with what is known about it for verification."""

    url: str
    dest: Path
    size: int | None = None
    md5: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Options:
    """Downloader settings; a source overrides them with its ``download`` dict."""

    workers: int = 4  # parallel downloads
    retries: int = 5  # retries after the first attempt
    backoff: float = 1.0  # seconds before the first retry, doubled each time
    max_delay: float = 300.0  # cap on one wait, also on Retry-After
    timeout: float = 60.0  # seconds per connect / read
    host_interval: float = 0.0  # minimum seconds between requests to one host
    user_agent: str = USER_AGENT
    progress_interval: float = 2.0  # seconds between progress lines

    @classmethod
    def from_spec(cls, spec: dict, **defaults) -> Options:
        """Options from ``spec["download"]`` over method ``defaults`` over the class defaults."""
        given = {**defaults, **(spec.get("download") or {})}
        unknown = set(given) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown download options {sorted(unknown)}")
        return replace(cls(), **given)


def verify(path: Path, item: Item) -> str | None:
    """What is wrong with ``path`` as the file ``item`` describes, or None if it checks out."""
    size = path.stat().st_size
    if item.size is not None and size != item.size:
        return f"size {size} bytes, expected {item.size}"
    for name in ("md5", "sha256"):
        expected = getattr(item, name)
        if expected:
            actual = file_digest(path, name)
            if actual != expected.lower():
                return f"{name} {actual}, expected {expected.lower()}"
    return None


def human_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KiB'``."""
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        n /= 1024
        if n < 1024 or unit == "GiB":
            break
    return f"{n:.1f} {unit}"


class Progress:
    """Line-based progress on stderr: counters by outcome plus bytes, at most one line per interval."""

    def __init__(self, label: str, total: int, interval: float, done_keys: Iterable[str]):
        self.label, self.total, self.interval = label, total, interval
        self.done_keys = tuple(done_keys)
        self.counts: Counter[str] = Counter()
        self.bytes = 0
        self.start = self.last = time.monotonic()
        self.lock = threading.Lock()

    def add(self, key: str | None = None, nbytes: int = 0) -> None:
        """Count one outcome ``key`` and/or ``nbytes`` received; print if the interval passed."""
        with self.lock:
            if key:
                self.counts[key] += 1
            self.bytes += nbytes
            now = time.monotonic()
            if now - self.last >= self.interval:
                self.last = now
                print(self.line(), file=sys.stderr, flush=True)

    def line(self) -> str:
        """``label: done/total (outcome n, ...), bytes at rate``."""
        done = sum(self.counts[k] for k in self.done_keys)
        parts = ", ".join(f"{k} {n}" for k, n in sorted(self.counts.items()))
        rate = self.bytes / max(time.monotonic() - self.start, 1e-9)
        return (f"{self.label}: {done}/{self.total} ({parts or 'starting'}), "
                f"{human_bytes(self.bytes)} at {human_bytes(rate)}/s")


@dataclass
class Summary:
    """Outcome of ``Downloader.fetch_all``."""

    fetched: list[Item] = field(default_factory=list)
    present: list[Item] = field(default_factory=list)
    failed: list[tuple[Item, DownloadError]] = field(default_factory=list)
    bytes: int = 0

    def __str__(self) -> str:
        return (f"download summary: {len(self.fetched)} fetched ({human_bytes(self.bytes)}), "
                f"{len(self.present)} already present, {len(self.failed)} failed")

    def check(self, ignore: Callable[[DownloadError], bool] = lambda e: False) -> None:
        """Raise a DownloadError listing the failures, except those ``ignore`` accepts."""
        failures = [(item, e) for item, e in self.failed if not ignore(e)]
        if failures:
            shown = "\n".join(f"  {item.dest}: {e}" for item, e in failures[:10])
            more = f"\n  ... and {len(failures) - 10} more" if len(failures) > 10 else ""
            raise DownloadError(f"{len(failures)} download(s) failed:\n{shown}{more}")


class _Retry(Exception):
    """A transient failure of one attempt."""

    def __init__(self, reason: str, retry_after: float | None = None, unreachable: bool = False):
        super().__init__(reason)
        self.retry_after = retry_after
        self.unreachable = unreachable


class Downloader:
    """Fetches ``Item``s and single URLs with retries, resume, verification and rate limiting."""

    def __init__(self, options: Options | None = None):
        self.options = options or Options()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self._next_slot: dict[str, float] = {}
        self._slot_lock = threading.Lock()
        self._progress: Progress | None = None

    # -- public -----------------------------------------------------------------

    def fetch_all(self, items: list[Item], folder: Path,
                  on_done: Callable[[Item], None] | None = None) -> Summary:
        """Fetch what is missing or bad among ``items``, in parallel; print progress and a summary.

        ``on_done(item)`` runs in the worker after an item is fetched or found
        present and verified; a DownloadError from it counts as that item's
        failure. If the network turns out unreachable, the remaining items are
        skipped and NetworkUnavailable names ``folder`` as the place for
        manually obtained files.
        """
        summary = Summary()
        stop = threading.Event()
        lock = threading.Lock()
        unreachable: list[NetworkUnavailable] = []
        self._progress = Progress("download", len(items), self.options.progress_interval,
                                  ("fetched", "present", "failed"))

        def work(item: Item) -> None:
            if stop.is_set():
                return
            try:
                outcome = self.fetch(item)
                size = item.dest.stat().st_size
                if on_done:
                    on_done(item)
            except NetworkUnavailable as e:
                stop.set()
                unreachable.append(e)
                return
            except DownloadError as e:
                with lock:
                    summary.failed.append((item, e))
                self._progress.add("failed")
                return
            with lock:
                getattr(summary, outcome).append(item)
                summary.bytes += size if outcome == "fetched" else 0
            self._progress.add(outcome)

        with ThreadPoolExecutor(max(1, self.options.workers)) as pool:
            for future in [pool.submit(work, item) for item in items]:
                future.result()
        self._progress = None
        print(summary, file=sys.stderr, flush=True)
        if unreachable:
            raise with_local_advice(unreachable[0], folder)
        return summary

    def fetch(self, item: Item) -> str:
        """Make ``item.dest`` a verified copy of ``item.url``: ``'present'`` or ``'fetched'``.

        After transient failures a partial ``.part`` stays for the next run to resume.
        """
        if item.dest.is_file():
            problem = verify(item.dest, item)
            if problem is None:
                return "present"
            print(f"{item.dest}: {problem}; fetching it again", file=sys.stderr)
            item.dest.unlink()
        item.dest.parent.mkdir(parents=True, exist_ok=True)
        part = item.dest.with_name(item.dest.name + ".part")
        source = [item.url]  # becomes the file's own URL once Drive's pages are passed
        self._retrying(item.url, lambda: self._stream(item, part, source))
        problem = verify(part, item)
        if problem:
            part.unlink()
            raise DownloadError(f"{item.url}: {problem}; nothing kept at {item.dest}", item.url)
        os.replace(part, item.dest)
        return "fetched"

    def get(self, url: str) -> bytes:
        """The whole body of ``url`` (no resume), with the same retries."""

        def attempt() -> bytes:
            response, _ = self._open(url, 0, None)
            with response:
                body = response.read()
            length = response.headers.get("Content-Length")
            if length is not None and len(body) != int(length):
                raise _Retry(f"truncated: {len(body)} of {length} bytes")
            return body

        return self._retrying(url, attempt)

    # -- one attempt ------------------------------------------------------------

    def _stream(self, item: Item, part: Path, source: list[str]) -> None:
        """One attempt: append to or restart ``part`` from ``source[0]``, updating it past Drive pages."""
        offset = part.stat().st_size if part.exists() else 0
        if item.size is not None and offset > item.size:
            part.unlink()
            offset = 0
        try:
            response, source[0] = self._open(source[0], offset, item)
        except urllib.error.HTTPError as e:
            if e.code != 416 or not offset:
                raise
            e.close()
            if offset == item.size:
                return  # complete already; verified by the caller
            part.unlink()
            raise _Retry("server refused to resume the partial file; starting over") from None
        with response:
            if response.status == 206:
                start, total = _content_range(response.headers.get("Content-Range", ""))
                if start != offset:
                    raise DownloadError(f"{item.url}: asked to resume at byte {offset}, "
                                        f"server sent from {start}", item.url)
                mode = "ab"
            else:
                offset, mode = 0, "wb"
                length = response.headers.get("Content-Length")
                total = int(length) if length is not None else None
            if item.size is not None and total is not None and total != item.size:
                raise DownloadError(f"{item.url}: server announces {total} bytes, "
                                    f"expected {item.size}", item.url)
            received = 0
            with open(part, mode) as f:
                while block := response.read(CHUNK):
                    f.write(block)
                    received += len(block)
                    if self._progress:
                        self._progress.add(nbytes=len(block))
        if total is not None and offset + received < total:
            raise _Retry(f"truncated at byte {offset + received} of {total}")

    def _open(self, url: str, offset: int, item: Item | None):
        """GET ``url`` (from byte ``offset``) past Google Drive's pages: (response, URL asked last)."""
        for _ in range(MAX_HOPS + 1):
            headers = {"User-Agent": self.options.user_agent}
            if offset:
                headers["Range"] = f"bytes={offset}-"
            self._wait_for_host(url)
            response = self.opener.open(urllib.request.Request(url, headers=headers),
                                        timeout=self.options.timeout)
            if response.headers.get_content_type() != "text/html":
                return response, url
            with response:
                page = response.read(MAX_PAGE).decode("utf-8", "replace")
            url = _drive_next_url(page, response.url, item)
        raise DownloadError(f"{url}: still an HTML page after {MAX_HOPS} confirmation steps", url)

    def _wait_for_host(self, url: str) -> None:
        """Sleep until this host's next request slot (``host_interval`` apart)."""
        interval = self.options.host_interval
        if interval <= 0:
            return
        host = urlsplit(url).netloc
        with self._slot_lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, now))
            self._next_slot[host] = slot + interval
        if slot > now:
            time.sleep(slot - now)

    # -- retries ------------------------------------------------------------------

    def _retrying(self, url: str, attempt: Callable):
        """Run ``attempt`` until it succeeds, retrying transient failures with backoff."""
        opts = self.options
        failures: list[_Retry] = []
        for n in range(opts.retries + 1):
            if failures:
                wait = opts.backoff * 2 ** (n - 1)
                time.sleep(min(max(wait, failures[-1].retry_after or 0), opts.max_delay))
            try:
                return attempt()
            except _Retry as e:
                failures.append(e)
            except urllib.error.HTTPError as e:
                if e.code != 429 and e.code < 500:
                    raise DownloadError(f"{url}: HTTP {e.code} {e.reason}", url, e.code) from None
                failures.append(_Retry(f"HTTP {e.code} {e.reason}", _retry_after(e.headers)))
                e.close()
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError,
                    TimeoutError) as e:
                failures.append(_classify(e))
        attempts = f"{len(failures)} attempt(s)"
        if all(f.unreachable for f in failures):
            raise NetworkUnavailable(f"{url}: cannot connect ({failures[-1]}) in {attempts}", url)
        raise DownloadError(f"{url}: failed {attempts}, last: {failures[-1]}", url)


def _classify(error: Exception) -> _Retry:
    """A transient failure, marked unreachable when no connection could be made at all."""
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    unreachable = isinstance(reason, socket.gaierror) or (
        isinstance(reason, OSError) and reason.errno in UNREACHABLE_ERRNOS)
    return _Retry(f"{type(reason).__name__}: {reason}", unreachable=unreachable)


def _retry_after(headers) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date)."""
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _content_range(value: str) -> tuple[int, int | None]:
    """``'bytes 100-199/200'`` -> ``(100, 200)``; total None if ``*``."""
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", value.strip())
    if not match:
        raise _Retry(f"bad Content-Range {value!r}")
    return int(match[1]), None if match[2] == "*" else int(match[2])


# -- Google Drive interstitial pages ------------------------------------------------


class _Forms(HTMLParser):
    """Collects each form's action and its hidden inputs."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append((attrs.get("action") or "", {}))
        elif tag == "input" and self.forms and attrs.get("type") == "hidden" and attrs.get("name"):
            self.forms[-1][1][attrs["name"]] = attrs.get("value") or ""


def _drive_next_url(page: str, url: str, item: Item | None) -> str:
    """The URL an HTML answer leads to (Drive confirm token or virus-scan form), or raise."""
    if "Quota exceeded" in page or "Too many users have viewed or downloaded" in page:
        where = (f"download it in a browser and put it at {item.dest} (the next run verifies "
                 f"and uses it)") if item else "download it in a browser"
        raise DriveQuotaExceeded(
            f"{url}: Google Drive quota exceeded (too many downloads of this file recently). "
            f"Retry in a few hours (Drive quotas reset within 24 hours), or {where}.", url)
    parser = _Forms()
    parser.feed(page)
    for action, inputs in parser.forms:
        if "confirm" in inputs:
            return urljoin(url, action) + "?" + urlencode(inputs)
    tokens = [html.unescape(t) for t in re.findall(r'"([^"]*export=download[^"]*)"', page)]
    confirm = [t for t in tokens if "confirm=" in t]
    if confirm:
        return urljoin(url, confirm[0])
    title = re.search(r"<title>(.*?)</title>", page, re.S | re.I)
    raise DownloadError(f"{url}: expected a file, got an HTML page"
                        f"{f' titled {title[1].strip()!r}' if title else ''}", url)
