"""Decoders in a child process: a native crash (a segfault in libjpeg, libpng, FFmpeg or OpenCV) costs one item.

``Isolated(make, *args)`` starts one child (``forkserver``: a fresh interpreter, never a fork of a process whose
OpenCV threads may hold locks) that builds its worker once, ``make(*args)``; each call sends one item and waits
for its result. A Python exception comes back as itself; a child that dies takes only the item it was working on
(``ChildCrashed``), and the next call starts a new child. The child's native libraries print to a closed stderr
(their warnings are judged, or irrelevant, elsewhere); Python's own ``sys.stderr`` and the logs still reach it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from unmask.log import setup_logging

_worker: Callable[..., Any] | None = None
_failure: Exception | None = None  # what building the worker raised: every call raises it


class ChildCrashed(RuntimeError):
    """The child process died on an item; the message says so (the item is the caller's to name)."""


def _start(level: int, make: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """In the child: native stderr to /dev/null (Python's keeps the real one), logs as in the parent, the worker."""
    global _worker, _failure
    sys.stderr.flush()
    sys.stderr = os.fdopen(os.dup(2), "w", buffering=1)
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 2)
    setup_logging(0)
    logging.getLogger("unmask").setLevel(level)
    try:
        _worker = make(*args, **kwargs)
    except Exception as error:  # e.g. a detector model that does not load: the caller's to report, per call
        _failure = error


def _call(*args: Any, **kwargs: Any) -> Any:
    if _failure is not None:
        raise _failure
    assert _worker is not None, "_start built the worker or recorded its failure"
    return _worker(*args, **kwargs)


class Isolated:
    """``make(*args, **kwargs)`` built in a child process; call it with one item's arguments at a time."""

    def __init__(self, make: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._init = (logging.getLogger("unmask").getEffectiveLevel(), make, args, kwargs)
        self._pool: ProcessPoolExecutor | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._pool is None:
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(1, mp_context=context, initializer=_start, initargs=self._init)
        try:
            return self._pool.submit(_call, *args, **kwargs).result()
        except BrokenProcessPool:
            self.close()
            raise ChildCrashed("the decoder crashed on it (its process died; the other files go on)") from None

    def close(self) -> None:
        """Stop the child (a new one starts at the next call)."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Isolated:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
