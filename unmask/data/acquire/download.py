"""HTTP downloads shared by the acquisition methods, on a ``requests`` session.

Each request is retried by urllib3's ``Retry`` on connection errors,
timeouts, 429 and 5xx, with exponential backoff and ``Retry-After`` honoured.
Each file streams to ``<name>.part`` and is renamed to its final name only
after its size and checksums check out, so a failed download never leaves a
file under its final name. A partial file, or a body cut short, resumes with
an HTTP Range request (206 appends, 200 starts over). Files download in a
thread pool with a per-host minimum interval between requests; progress
(``unmask.log.progress``) and a summary go to stderr. Google Drive's
interstitial pages (confirm token, virus-scan form, quota exceeded) are
passed in ``_drive_next_url``.
"""

from __future__ import annotations

import html
import logging
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields, replace
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.util import Retry

from unmask.io import file_digest
from unmask.log import progress

log = logging.getLogger(__name__)

USER_AGENT = f"unmask/0.1 (reproduction of Durall et al. 2019; python-requests {requests.__version__})"
CHUNK = 1 << 16
MAX_PAGE = 1 << 20  # an interstitial HTML page is read whole up to this size
MAX_HOPS = 3  # interstitial pages followed per request


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
    return NetworkUnavailable(
        f"{error}\nThe network seems unavailable. Put this source's files "
        f"in {folder} yourself and set `method: local` for it.",
        error.url,
    )


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
    progress_interval: float = 30.0  # seconds between progress lines in a log (a terminal shows bars)

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


@dataclass
class Summary:
    """Outcome of ``Downloader.fetch_all``."""

    fetched: list[Item] = field(default_factory=list)
    present: list[Item] = field(default_factory=list)
    failed: list[tuple[Item, DownloadError]] = field(default_factory=list)
    bytes: int = 0

    def __str__(self) -> str:
        return (
            f"download summary: {len(self.fetched)} fetched ({tqdm.format_sizeof(self.bytes, 'B')}), "
            f"{len(self.present)} already present, {len(self.failed)} failed"
        )

    def check(self, ignore: Callable[[DownloadError], bool] = lambda e: False) -> None:
        """Raise a DownloadError listing the failures, except those ``ignore`` accepts."""
        failures = [(item, e) for item, e in self.failed if not ignore(e)]
        if failures:
            shown = "\n".join(f"  {item.dest}: {e}" for item, e in failures[:10])
            more = f"\n  ... and {len(failures) - 10} more" if len(failures) > 10 else ""
            raise DownloadError(f"{len(failures)} download(s) failed:\n{shown}{more}")


class _Retry(Exception):
    """A body that failed after its request succeeded: resumed by ``Downloader._retrying``."""


class _Backoff(Retry):
    """urllib3's Retry waiting ``backoff_factor * 2**(n-1)`` after the n-th failure (urllib3 skips the
    first wait), each wait, Retry-After included, at most ``backoff_max``."""

    def get_backoff_time(self) -> float:
        return min(self.backoff_max, self.backoff_factor * 2 ** (len(self.history) - 1)) if self.history else 0

    def parse_retry_after(self, retry_after: str) -> float:
        return min(super().parse_retry_after(retry_after), self.backoff_max)


class _PacedAdapter(HTTPAdapter):
    """An HTTPAdapter that keeps ``interval`` seconds between requests to one host.

    A request waits until ``interval`` after both the previous request's start
    and its answer, so network delays never bring two requests closer.
    """

    def __init__(self, interval: float, **kwargs):
        self.interval = interval
        self.next_slot: dict[str, float] = {}
        self.lock = threading.Lock()
        super().__init__(**kwargs)

    def send(self, request, **kwargs):
        if self.interval <= 0:
            return super().send(request, **kwargs)
        host = urlsplit(request.url).netloc
        while True:
            with self.lock:
                wait = self.next_slot.get(host, 0.0) - time.monotonic()
                if wait <= 0:
                    self.next_slot[host] = time.monotonic() + self.interval
                    break
            time.sleep(wait)
        try:
            return super().send(request, **kwargs)
        finally:
            with self.lock:
                self.next_slot[host] = max(self.next_slot[host], time.monotonic() + self.interval)


class Downloader:
    """Fetches ``Item``s and single URLs with retries, resume, verification and rate limiting."""

    def __init__(self, options: Options | None = None):
        self.options = opts = options or Options()
        retry = _Backoff(
            total=opts.retries,
            backoff_factor=opts.backoff,
            backoff_max=opts.max_delay,
            status_forcelist=[429, *range(500, 600)],
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = _PacedAdapter(opts.host_interval, max_retries=retry, pool_maxsize=max(1, opts.workers))
        self.session = requests.Session()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        # identity: byte offsets (Range) and sizes refer to the file itself, never to a compressed transfer
        self.session.headers.update({"User-Agent": opts.user_agent, "Accept-Encoding": "identity"})
        self._lock = threading.Lock()
        self._bytes = None

    def fetch_all(self, items: list[Item], folder: Path, on_done: Callable[[Item], None] | None = None) -> Summary:
        """Fetch what is missing or bad among ``items``, in parallel; show progress and log a summary.

        ``on_done(item)`` runs in the worker after an item is fetched or found
        present and verified; a DownloadError from it counts as that item's
        failure. If the network turns out unreachable, the remaining items are
        skipped and NetworkUnavailable names ``folder`` as the place for
        manually obtained files.
        """
        summary, outcomes = Summary(), Counter()
        stop = threading.Event()
        unreachable: list[NetworkUnavailable] = []
        interval = self.options.progress_interval
        sizes = [item.size for item in items]
        files = progress(total=len(items), unit="file", desc="download", interval=interval)
        self._bytes = progress(
            total=None if None in sizes else sum(sizes),
            unit="B",
            unit_scale=True,
            desc="download bytes",
            interval=interval,
        )

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
                outcome = "failed"
                with self._lock:
                    summary.failed.append((item, e))
            else:
                with self._lock:
                    getattr(summary, outcome).append(item)
                    summary.bytes += size if outcome == "fetched" else 0
            with self._lock:
                outcomes[outcome] += 1
                files.set_postfix_str(", ".join(f"{k} {n}" for k, n in sorted(outcomes.items())))
                files.update()

        with ThreadPoolExecutor(max(1, self.options.workers)) as pool:
            for future in [pool.submit(work, item) for item in items]:
                future.result()
        self._bytes.close()
        files.close()
        self._bytes = None
        log.info("%s", summary)
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
            log.warning("%s: %s; fetching it again", item.dest, problem)
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
                try:
                    return response.content
                except requests.RequestException as e:
                    raise _Retry(f"{type(e).__name__}: {e}") from None

        return self._retrying(url, attempt)

    def _stream(self, item: Item, part: Path, source: list[str]) -> None:
        """One attempt: append to or restart ``part`` from ``source[0]``, updating it past Drive pages."""
        offset = part.stat().st_size if part.exists() else 0
        if item.size is not None and offset > item.size:
            part.unlink()
            offset = 0
        response, source[0] = self._open(source[0], offset, item)
        with response:
            if response.status_code == 416:
                if offset == item.size:
                    return  # complete already; verified by the caller
                part.unlink()
                raise _Retry("server refused to resume the partial file; starting over")
            if response.status_code == 206:
                match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", response.headers.get("Content-Range", ""))
                if not match or int(match[1]) != offset:
                    raise DownloadError(
                        f"{item.url}: asked to resume at byte {offset}, server sent "
                        f"{response.headers.get('Content-Range')!r}",
                        item.url,
                    )
                total, mode = None if match[2] == "*" else int(match[2]), "ab"
            else:
                length = response.headers.get("Content-Length")
                offset, total, mode = 0, None if length is None else int(length), "wb"
            if item.size is not None and total is not None and total != item.size:
                raise DownloadError(f"{item.url}: server announces {total} bytes, expected {item.size}", item.url)
            received = 0
            response.raw.enforce_content_length = False  # keep the bytes of a short body: checked below
            try:
                with open(part, mode) as f:
                    for block in response.iter_content(CHUNK):
                        f.write(block)
                        received += len(block)
                        if self._bytes is not None:
                            with self._lock:
                                self._bytes.update(len(block))
            except requests.RequestException as e:
                raise _Retry(f"{type(e).__name__}: {e}") from None
        if total is not None and offset + received < total:
            raise _Retry(f"truncated at byte {offset + received} of {total}")

    def _open(self, url: str, offset: int, item: Item | None) -> tuple[requests.Response, str]:
        """GET ``url`` (from byte ``offset``) past Google Drive's pages: (response, URL asked last).

        Failed requests (after urllib3's retries) and error statuses other than 416 raise DownloadError.
        """
        for _ in range(MAX_HOPS + 1):
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            try:
                response = self.session.get(url, headers=headers, stream=True, timeout=self.options.timeout)
            except requests.RequestException as e:
                raise _request_failure(url, e, self.options.retries) from None
            if response.status_code >= 400 and response.status_code != 416:
                response.close()
                retries = response.raw.retries
                attempts = len(retries.history) + 1 if retries else 1
                status = f"HTTP {response.status_code} {response.reason}"
                message = f"failed {attempts} attempt(s), last: {status}" if attempts > 1 else status
                raise DownloadError(f"{url}: {message}", url, response.status_code)
            if response.headers.get("Content-Type", "").split(";")[0].strip() != "text/html":
                return response, url
            with response:
                page = response.raw.read(MAX_PAGE, decode_content=True).decode("utf-8", "replace")
            url = _drive_next_url(page, response.url, item)
        raise DownloadError(f"{url}: still an HTML page after {MAX_HOPS} confirmation steps", url)

    def _retrying(self, url: str, attempt: Callable):
        """Run ``attempt``, resuming bodies that fail after their request succeeded, with backoff."""
        opts = self.options
        for n in range(opts.retries + 1):
            if n:
                time.sleep(min(opts.backoff * 2 ** (n - 1), opts.max_delay))
            try:
                return attempt()
            except _Retry as e:
                failure = e
        raise DownloadError(f"{url}: failed {opts.retries + 1} attempt(s), last: {failure}", url)


def _request_failure(url: str, error: requests.RequestException, retries: int) -> DownloadError:
    """The DownloadError for a failed request: NetworkUnavailable if its ``retries`` never connected.

    An error that urllib3 does not retry (a malformed URL, say) was one attempt.
    """
    retried = error.args[0] if error.args and isinstance(error.args[0], MaxRetryError) else None
    reason = retried.reason if retried else error
    if retried is None:
        return DownloadError(f"{url}: {type(reason).__name__}: {reason}", url)
    if isinstance(reason, NewConnectionError):  # refused, unreachable or no DNS answer; not a timeout
        return NetworkUnavailable(f"{url}: cannot connect ({reason}) in {retries + 1} attempt(s)", url)
    return DownloadError(f"{url}: failed {retries + 1} attempt(s), last: {type(reason).__name__}: {reason}", url)


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
        where = (
            (f"download it in a browser and put it at {item.dest} (the next run verifies and uses it)")
            if item
            else "download it in a browser"
        )
        raise DriveQuotaExceeded(
            f"{url}: Google Drive quota exceeded (too many downloads of this file recently). "
            f"Retry in a few hours (Drive quotas reset within 24 hours), or {where}.",
            url,
        )
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
    raise DownloadError(
        f"{url}: expected a file, got an HTML page{f' titled {title[1].strip()!r}' if title else ''}", url
    )
