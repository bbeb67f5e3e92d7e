"""Logging and progress for every stage: one setup call, tqdm bars on a terminal, periodic lines in job logs.

Modules log through ``logging.getLogger(__name__)``; a command calls
``setup_logging(verbosity)`` once. Long loops wrap their work in ``progress``:
a tqdm bar when stderr is a terminal, otherwise (Snakemake job logs) one plain
line at most every ``interval`` seconds and a last line when it closes.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterable, Iterator

from tqdm import tqdm

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LINE_FORMAT = ("{desc}: {n_fmt}/{total_fmt}", "[{elapsed}, {rate_fmt}]")  # the postfix goes between


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (redirections and capture included)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass

    def format(self, record: logging.LogRecord) -> str:
        """The record with control characters escaped in each line (a file name's ESC reaches no terminal)."""
        return "\n".join(one_line(line) for line in super().format(record).split("\n"))

    def emit(self, record: logging.LogRecord) -> None:
        """On a terminal, print above the progress bars (``tqdm.write``) instead of through them."""
        if not self.stream.isatty():
            return super().emit(record)
        try:
            tqdm.write(self.format(record), file=self.stream)
        except Exception:
            self.handleError(record)


def one_line(text: str) -> str:
    """``text`` with newlines, tabs and other unprintable characters escaped (``\\n``), so that a message about a
    file with such a name stays one line."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def setup_logging(verbosity: int = 0) -> None:
    """Send the ``unmask`` loggers to stderr: warnings only below 0, info at 0, debug above 0.

    Calling it again replaces the earlier setup (it never adds a second handler).
    """
    logger = logging.getLogger("unmask")
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT, "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG)


class LineProgress:
    """tqdm's counting without the bar: a plain line on stderr at most every ``interval`` seconds."""

    def __init__(
        self,
        iterable: Iterable | None,
        total: int | None,
        unit: str,
        desc: str,
        interval: float,
        unit_scale: bool,
        initial: int,
    ):
        self.iterable, self.total, self.unit, self.desc = iterable, total, unit, desc
        self.interval, self.unit_scale = interval, unit_scale
        self.initial = self.n = initial
        self.postfix, self.shown = "", (initial, "")
        self.start = self.last = time.monotonic()
        self.lock = threading.Lock()

    def __iter__(self) -> Iterator:
        assert self.iterable is not None, "a progress bar without an iterable is updated, not iterated"
        for item in self.iterable:
            yield item
            self.update()
        self.close()

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more; print a line if ``interval`` seconds passed since the last one."""
        with self.lock:
            self.n += n
            if time.monotonic() - self.last >= self.interval:
                self._print()

    def set_postfix_str(self, postfix: str) -> None:
        """Text shown after the counts, e.g. outcomes so far."""
        with self.lock:
            self.postfix = postfix

    def close(self) -> None:
        """Print the final line unless the last one already said it."""
        with self.lock:
            if self.shown != (self.n, self.postfix):
                self._print()

    def _print(self) -> None:
        self.last = now = time.monotonic()
        self.shown = (self.n, self.postfix)
        counts, rate = (
            tqdm.format_meter(
                self.n,
                self.total,
                now - self.start,
                prefix=self.desc,
                unit=self.unit,
                unit_scale=self.unit_scale,
                initial=self.initial,
                bar_format=part,
            )
            for part in LINE_FORMAT
        )
        postfix = f" ({self.postfix})" if self.postfix else ""
        print(f"{counts}{postfix} {rate}", file=sys.stderr, flush=True)


def progress(
    iterable: Iterable | None = None,
    total: int | None = None,
    unit: str = "it",
    desc: str = "",
    interval: float = 30.0,
    unit_scale: bool = False,
    initial: int = 0,
    terminal_only: bool = False,
) -> tqdm | LineProgress:
    """A tqdm bar when stderr is a terminal, else a ``LineProgress`` printing every ``interval`` seconds
    (or, with ``terminal_only``, nothing: for a user command whose stderr is its own output).

    Use it like tqdm: iterate over it, or call ``update(n)`` / ``set_postfix_str``
    and ``close()`` (or use it as a context manager). ``unit_scale`` shows
    1.5M instead of 1500000 (use it with ``unit="B"``); ``initial`` counts work done earlier.
    """
    if sys.stderr.isatty():
        return tqdm(
            iterable, total=total, unit=unit, desc=desc, unit_scale=unit_scale, initial=initial, file=sys.stderr
        )
    if terminal_only:
        return tqdm(iterable, total=total, disable=True)
    return LineProgress(iterable, total, unit, desc, interval, unit_scale, initial)
