"""HTTP downloads shared by the acquisition methods: a ``requests`` session whose urllib3 ``Retry`` retries
with backoff and ``Retry-After``; files stream to ``<name>.part``, resume with HTTP Range, and get their final
name once size and checksums check out; a thread pool with per-host pacing; Google Drive's pages passed.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.util import Retry

from unmask.io import file_digest
from unmask.log import progress

_T = TypeVar("_T")
log = logging.getLogger(__name__)

USER_AGENT = f"unmask/0.1 (reproduction of Durall et al. 2019; python-requests {requests.__version__})"
CHUNK = 1 << 16
MAX_PAGE = 1 << 20  # an interstitial HTML page is read whole up to this size
MAX_HOPS = 3  # interstitial pages followed per request


class DownloadError(Exception):
    """A download failed; the message names the URL or file and the problem."""

    def __init__(self, message: str, url: str | None = None, status: int | None = None):
        super().__init__(message)
        self.url, self.status = url, status


class NetworkUnavailable(DownloadError):
    """Every attempt failed to connect (refused, DNS failure, unreachable)."""

    def with_local_advice(self, folder: Path) -> NetworkUnavailable:
        """This error, advising to fill ``folder`` by hand and use ``method: local``."""
        advice = f"Put this source's files in {folder} yourself and set `method: local` for it."
        return NetworkUnavailable(f"{self}\nThe network seems unavailable. {advice}", self.url)


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
    max_bytes: int | None = None  # where no size is declared: stop past this many bytes


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
    def from_spec(cls, spec: dict[str, Any], **defaults: Any) -> Options:
        """Options from ``spec["download"]`` over method ``defaults`` over the class defaults."""
        given = {**defaults, **(spec.get("download") or {})}
        if unknown := set(given) - {f.name for f in fields(cls)}:
            raise ValueError(f"unknown download options {sorted(unknown)}")
        return cls(**given)


def verify(path: Path, item: Item) -> str | None:
    """What is wrong with ``path`` as the file ``item`` describes, or None if it checks out."""
    size = path.stat().st_size
    if item.size is not None and size != item.size:
        return f"size {size} bytes, expected {item.size}"
    for name, expected in (("md5", item.md5), ("sha256", item.sha256)):
        if expected and (actual := file_digest(path, name)) != expected.lower():
            return f"{name} {actual}, expected {expected.lower()}"
    return None


@dataclass
class Summary:
    """Outcome of ``Downloader.fetch_all``."""

    fetched: list[Item] = field(default_factory=list)
    present: list[Item] = field(default_factory=list)
    failed: list[tuple[Item, DownloadError]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{len(self.fetched)} fetched, {len(self.present)} already present, {len(self.failed)} failed"

    def check(self, ignore: Callable[[DownloadError], bool] = lambda e: False) -> None:
        """Raise a DownloadError listing the failures, except those ``ignore`` accepts."""
        failures = [f"  {item.dest}: {e}" for item, e in self.failed if not ignore(e)]
        if failures:
            more = [f"  ... and {len(failures) - 10} more"] if len(failures) > 10 else []
            raise DownloadError("\n".join([f"{len(failures)} download(s) failed:", *failures[:10], *more]))


class _Retry(Exception):
    """A body that failed after its request succeeded: resumed by ``Downloader._retrying``."""


class _Backoff(Retry):
    """urllib3's Retry waiting ``backoff_factor * 2**(n-1)`` after the n-th failure (urllib3 skips the first wait)."""

    def get_backoff_time(self) -> float:
        return min(self.backoff_max, self.backoff_factor * 2 ** (len(self.history) - 1)) if self.history else 0


class _PacedAdapter(HTTPAdapter):
    """An HTTPAdapter that sends a request to a host ``interval`` seconds after the previous one's answer."""

    def __init__(self, interval: float, **kwargs: Any) -> None:
        self.interval = interval
        self.answered: dict[str, float] = {}
        self.locks: dict[str, threading.Lock] = {}
        super().__init__(**kwargs)

    # requests.Session calls send(request, **kwargs): every argument but the request comes by keyword
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if self.interval <= 0:
            return super().send(request, **kwargs)
        host = urlsplit(str(request.url)).netloc  # a prepared request has its URL
        with self.locks.setdefault(host, threading.Lock()):
            if host in self.answered:
                time.sleep(max(0.0, self.answered[host] + self.interval - time.monotonic()))
            try:
                return super().send(request, **kwargs)
            finally:
                self.answered[host] = time.monotonic()


class Downloader:
    """Fetches ``Item``s and single URLs with retries, resume, verification and per-host pacing."""

    def __init__(self, options: Options | None = None):
        self.options = opts = options or Options()
        retry = _Backoff(
            total=opts.retries,
            backoff_factor=opts.backoff,
            backoff_max=opts.max_delay,
            retry_after_max=opts.max_delay,  # type: ignore[arg-type]  # urllib3 annotates int; a float works alike
            respect_retry_after_header=True,
            status_forcelist=[429, *range(500, 600)],
            raise_on_status=False,
        )
        adapter = _PacedAdapter(opts.host_interval, max_retries=retry, pool_maxsize=max(1, opts.workers))
        self.session = requests.Session()
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        # identity: byte offsets (Range) and sizes refer to the file itself, never to a compressed transfer
        self.session.headers.update({"User-Agent": opts.user_agent, "Accept-Encoding": "identity"})
        self.confirmed: dict[str, str] = {}  # a URL that led through Drive's pages -> the file's own URL
        self._lock = threading.Lock()
        self._bytes: Any = None  # the byte progress bar of a fetch_all

    def fetch_all(self, items: list[Item], folder: Path, on_done: Callable[[Item], None] | None = None) -> Summary:
        """Fetch what is missing or bad among ``items`` in parallel; ``on_done(item)`` follows each item fetched or
        present (its DownloadError is the item's failure). If the network is unreachable, the rest is skipped and
        NetworkUnavailable names ``folder`` as the place for files got by hand."""
        summary, outcomes, unreachable = Summary(), Counter[str](), list[NetworkUnavailable]()
        interval, sizes = self.options.progress_interval, [item.size for item in items]
        files = progress(total=len(items), unit="file", desc="download", interval=interval)
        total = None if None in sizes else sum(size for size in sizes if size is not None)
        self._bytes = progress(total=total, unit="B", unit_scale=True, desc="download bytes", interval=interval)

        def work(item: Item) -> None:
            entry: Item | tuple[Item, DownloadError]
            if unreachable:
                return
            try:
                outcome, entry = self.fetch(item), item
                if on_done:
                    on_done(item)
            except NetworkUnavailable as e:
                unreachable.append(e)
                return
            except DownloadError as e:
                outcome, entry = "failed", (item, e)
            with self._lock:
                getattr(summary, outcome).append(entry)
                outcomes[outcome] += 1
                files.set_postfix_str(", ".join(f"{k} {n}" for k, n in sorted(outcomes.items())))
                files.update()

        with ThreadPoolExecutor(max(1, self.options.workers)) as pool:
            list(pool.map(work, items))
        files.close()
        self._bytes.close()
        log.info("download summary: %s; %s received", summary, tqdm.format_sizeof(self._bytes.n, "B"))
        self._bytes = None
        if unreachable:
            raise unreachable[0].with_local_advice(folder)
        return summary

    def fetch(self, item: Item) -> str:
        """Make ``item.dest`` a verified copy of ``item.url``: ``'present'`` or ``'fetched'``."""
        if item.dest.is_file():
            if (problem := verify(item.dest, item)) is None:
                return "present"
            log.warning("%s: %s; fetching it again", item.dest, problem)
            item.dest.unlink()
        item.dest.parent.mkdir(parents=True, exist_ok=True)
        part = item.dest.with_name(item.dest.name + ".part")
        self._retrying(item.url, lambda: self._stream(item, part))
        if problem := verify(part, item):
            part.unlink()
            raise DownloadError(f"{item.url}: {problem}; nothing kept at {item.dest}", item.url)
        part.replace(item.dest)
        return "fetched"

    def get(self, url: str) -> bytes:
        """The whole body of ``url`` (no resume), with the same retries."""

        def attempt() -> bytes:
            with self._open(url, 0, None) as response:
                return response.content

        return self._retrying(url, attempt)

    def _stream(self, item: Item, part: Path) -> None:
        """One attempt: append the rest of the item's file to ``part``, or start it over."""
        offset = part.stat().st_size if part.exists() else 0
        if item.size is not None and offset > item.size:
            part.unlink()
            offset = 0
        with self._open(item.url, offset, item) as response:
            if response.status_code == 416:
                if offset == item.size:
                    return  # complete already; verified by the caller
                part.unlink()
                raise _Retry("server refused to resume the partial file; starting over")
            if response.status_code == 206:
                sent = response.headers.get("Content-Range", "")
                match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", sent)
                if not match or int(match[1]) != offset:
                    raise DownloadError(f"{item.url}: asked to resume at byte {offset}, server sent {sent!r}", item.url)
                total = None if match[2] == "*" else int(match[2])
            else:
                length = response.headers.get("Content-Length")
                offset, total = 0, None if length is None else int(length)
            if item.size is not None and total is not None and total != item.size:
                raise DownloadError(f"{item.url}: server announces {total} bytes, expected {item.size}", item.url)
            response.raw.enforce_content_length = False  # keep the bytes of a short body: checked below
            limit = item.size if item.size is not None else item.max_bytes
            with open(part, "ab" if offset else "wb") as f:
                for block in response.iter_content(CHUNK):
                    if limit is not None and f.tell() + len(block) > limit:
                        break
                    f.write(block)
                    with self._lock:
                        if self._bytes is not None:
                            self._bytes.update(len(block))
                else:
                    limit = None
                end = f.tell()
            if limit is not None:  # an endless body filled the disk in seconds
                part.unlink()
                what = "its declared size" if item.size is not None else "the size limit"
                raise DownloadError(f"{item.url}: the server sent more than {limit} bytes ({what}); stopped", item.url)
            if total is not None and end < total:
                raise _Retry(f"truncated at byte {end} of {total}")

    def _open(self, url: str, offset: int, item: Item | None) -> requests.Response:
        """GET ``url`` from byte ``offset`` past Google Drive's pages (remembered); raise for failures but 416."""
        origin, url = url, self.confirmed.get(url, url)
        for _ in range(MAX_HOPS + 1):
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            try:
                response = self.session.get(url, headers=headers, stream=True, timeout=self.options.timeout)
            except requests.RequestException as e:
                raise _request_failure(url, e, self.options.retries) from None
            if response.status_code >= 400 and response.status_code != 416:
                response.close()
                attempts = len(response.raw.retries.history) + 1 if response.raw.retries else 1
                status = f"HTTP {response.status_code} {response.reason}"
                raise _failure(url, attempts, status, status=response.status_code)
            if response.headers.get("Content-Type", "").split(";")[0].strip() != "text/html":
                return response
            with response:
                page = response.raw.read(MAX_PAGE, decode_content=True).decode("utf-8", "replace")
            url = _drive_next_url(page, response.url, item)
            self.confirmed[origin] = url  # a resumed attempt starts past this page
        raise DownloadError(f"{url}: still an HTML page after {MAX_HOPS} confirmation steps", url)

    def _retrying(self, url: str, attempt: Callable[[], _T]) -> _T:
        """Run ``attempt``, again with backoff while its body fails after the request succeeded."""
        opts = self.options
        for n in range(opts.retries + 1):
            if n:
                time.sleep(min(opts.backoff * 2 ** (n - 1), opts.max_delay))
            try:
                return attempt()
            except _Retry as e:
                last = str(e)
            except requests.RequestException as e:  # raised while reading the body
                last = f"{type(e).__name__}: {e}"
        raise _failure(url, opts.retries + 1, last)


def _failure(
    url: str, attempts: int, last: str, status: int | None = None, kind: type[DownloadError] = DownloadError
) -> DownloadError:
    """The error for ``attempts`` failed attempts to get ``url``, the last one failing as ``last`` says."""
    return kind(f"{url}: failed {attempts} attempt(s), last: {last}" if attempts > 1 else f"{url}: {last}", url, status)


def _request_failure(url: str, error: requests.RequestException, retries: int) -> DownloadError:
    """The error for a failed request: NetworkUnavailable if its ``retries`` never connected; one attempt if
    urllib3 does not retry the error (a malformed URL, say)."""
    retried = error.args[0] if error.args and isinstance(error.args[0], MaxRetryError) else None
    if retried is None:
        return _failure(url, 1, f"{type(error).__name__}: {error}")
    if isinstance(retried.reason, NewConnectionError):  # refused, unreachable or no DNS answer; not a timeout
        return _failure(url, retries + 1, f"cannot connect ({retried.reason})", kind=NetworkUnavailable)
    return _failure(url, retries + 1, f"{type(retried.reason).__name__}: {retried.reason}")


class _Forms(HTMLParser):
    """Each form's action and hidden inputs in ``page``."""

    def __init__(self, page: str):
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.forms.append((values.get("action") or "", {}))
        elif tag == "input" and self.forms and values.get("type") == "hidden" and (name := values.get("name")):
            self.forms[-1][1][name] = values.get("value") or ""


def _drive_next_url(page: str, url: str, item: Item | None) -> str:
    """The URL an HTML answer leads to (Drive's confirm link or virus-scan form), or raise."""
    if "Quota exceeded" in page or "Too many users have viewed or downloaded" in page:
        where = f"put it at {item.dest} (the next run verifies and uses it)" if item else "use it"
        raise DriveQuotaExceeded(
            f"{url}: Google Drive quota exceeded (too many downloads of this file recently). Retry in a few "
            f"hours (Drive quotas reset within 24 hours), or download it in a browser and {where}.",
            url,
        )
    forms = [
        urljoin(url, action) + "?" + urlencode(fields) for action, fields in _Forms(page).forms if "confirm" in fields
    ]
    links = [urljoin(url, html.unescape(link)) for link in re.findall(r'"([^"]*export=download[^"]*)"', page)]
    if found := forms + [link for link in links if "confirm=" in link]:
        return found[0]
    title = re.search(r"<title>(.*?)</title>", page, re.S | re.I)
    raise DownloadError(
        f"{url}: expected a file, got an HTML page{f' titled {title[1].strip()!r}' if title else ''}", url
    )
