"""Content hashes and header facts of input files, cached by (size, modification time, inode).

A rebuild of the manifest reads again only the files whose size, modification
time or inode changed since the cache was written; hashing and header probes
run on a thread pool (hashlib releases the GIL). A cached hash is reused
whatever the code; cached header facts only while the probing code is
unchanged (``PROBE_VERSION``). The cache is never trusted beyond that: delete
it and the next build reads every file again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from unmask.code_closure import code_digest
from unmask.data.images import DECODER_ERRORS, RejectedImage, probe
from unmask.io import file_digest, write_parquet

logger = logging.getLogger(__name__)

WORKERS = min(8, os.cpu_count() or 1)
HEADER_COLUMNS = ("probe_version", "width", "height", "format", "note", "error")
CACHE_SCHEMA = pa.schema(
    [
        ("path", pa.string()),
        ("size", pa.int64()),
        ("mtime_ns", pa.int64()),
        ("inode", pa.int64()),
        ("sha256", pa.string()),
        ("probe_version", pa.string()),  # null: not probed yet
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("format", pa.string()),
        ("note", pa.string()),  # a problem that leaves the pixels defined (a JPEG's header)
        ("error", pa.string()),  # why the file cannot be used, if it cannot
    ]
)


@lru_cache(maxsize=1)
def probe_version() -> str:
    """A hash of the code that probes a file: cached facts from other code are read again."""
    return code_digest("data/images").removeprefix("sha256:")[:16]


@dataclass(frozen=True)
class FileFacts:
    """What the manifest needs of one file: its content hash and header facts, or why it cannot be used."""

    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    note: str | None = None
    error: str | None = None


def _stat_key(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


class FactsCache:
    """Hashes and header facts of files, kept in a Parquet file between runs (or in memory only, without a path)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, workers: int = WORKERS):
        self.path = Path(path) if path else None
        self.workers = workers
        self.rows: dict[str, dict[str, Any]] = {}
        self.changed = False
        if self.path and self.path.exists():
            try:
                table = pq.read_table(self.path)
                if not table.schema.equals(CACHE_SCHEMA):
                    raise pa.ArrowInvalid("its columns are not those of this version")
                columns = [table.column(name).to_pylist() for name in CACHE_SCHEMA.names]
                self.rows = {values[0]: dict(zip(CACHE_SCHEMA.names, values)) for values in zip(*columns)}
            except (OSError, pa.ArrowInvalid) as error:  # a damaged cache costs a rebuild, nothing else
                logger.warning(f"file cache {self.path} is unreadable ({error}); reading every file again")

    def _current(self, path: Path) -> tuple[dict[str, Any] | None, tuple[int, int, int] | OSError]:
        """The cached row of ``path`` if its size, mtime and inode still match, and its stat key (or the error)."""
        try:
            key = _stat_key(path)
        except OSError as error:
            return None, error
        row = self.rows.get(str(path))
        if row is not None and (row["size"], row["mtime_ns"], row["inode"]) == key:
            return row, key
        return None, key

    def _store(self, path: Path, key: tuple[int, int, int], sha256: str, facts: FileFacts | None = None) -> None:
        old = self.rows.get(str(path))
        row = {"path": str(path), "size": key[0], "mtime_ns": key[1], "inode": key[2], "sha256": sha256}
        if facts is not None:
            values = (probe_version(), facts.width, facts.height, facts.format, facts.note, facts.error)
            row |= dict(zip(HEADER_COLUMNS, values))
        elif old is not None and old["sha256"] == sha256:  # same bytes (a touch): header facts still hold
            row |= {name: old[name] for name in HEADER_COLUMNS}
        else:
            row |= dict.fromkeys(HEADER_COLUMNS)
        self.rows[str(path)] = row
        self.changed = True

    def digests(self, paths: Iterable[Path]) -> dict[Path, str]:
        """sha256 of each file (or the reason it cannot be read), hashing only files changed since cached."""
        result, todo = {}, []
        for path in paths:
            row, key = self._current(path)
            if isinstance(key, OSError):
                result[path] = _unreadable(key)
            elif row is not None:
                result[path] = row["sha256"]
            else:
                todo.append((path, key))
        if len(todo) > 100:
            logger.info(f"hashing {len(todo)} new or changed files")
        with ThreadPoolExecutor(self.workers) as pool:
            for (path, key), digest in zip(todo, pool.map(_digest_or_error, (p for p, _ in todo))):
                if isinstance(digest, OSError):
                    result[path] = _unreadable(digest)
                else:
                    result[path] = digest
                    self._store(path, key, digest)
        return result

    def facts(self, paths: Iterable[Path]) -> dict[Path, FileFacts]:
        """Hash and header facts of each file, reading only the files changed since cached."""
        result, todo = {}, []
        version = probe_version()
        for path in paths:
            row, key = self._current(path)
            if isinstance(key, OSError):
                result[path] = FileFacts(error=_unreadable(key))
            elif row is not None and row["probe_version"] == version:
                result[path] = _cached_facts(row)
            else:  # the hash of an unchanged file is known; a touched file's header facts hold if its bytes do
                old = self.rows.get(str(path))
                known = row["sha256"] if row is not None else None
                todo.append((path, key, known, old if old and old["probe_version"] == version else None))
        if todo:
            logger.info(f"reading {len(todo)} new or changed files (the rest are as the last build saw them)")
        with ThreadPoolExecutor(self.workers) as pool:
            for (path, key, *_), facts in zip(todo, pool.map(_read_facts, todo)):
                result[path] = facts
                if (
                    facts.sha256 is not None
                ):  # under the times seen before reading: a file changed meanwhile is read again
                    self._store(path, key, facts.sha256, facts)
        return result

    def retain(self, paths: Iterable[Path]) -> None:
        """Forget every file but ``paths`` (files gone from the dataset)."""
        keep = {str(path) for path in paths}
        if not keep.issuperset(self.rows):
            self.rows = {path: row for path, row in self.rows.items() if path in keep}
            self.changed = True

    def save(self) -> None:
        """Write the cache if anything was added (atomically; rows in path order)."""
        if self.path and self.changed:
            rows = [self.rows[path] for path in sorted(self.rows)]
            write_parquet(pa.Table.from_pylist(rows, CACHE_SCHEMA), self.path)
            self.changed = False


def _unreadable(error: OSError) -> str:
    return f"cannot read it ({error.strerror})"


def _digest_or_error(path: Path) -> str | OSError:
    try:
        return file_digest(path)
    except OSError as error:
        return error


def _cached_facts(row: dict[str, Any]) -> FileFacts:
    return FileFacts(row["sha256"], *(row[name] for name in HEADER_COLUMNS[1:]))


def _read_facts(task: tuple[Path, tuple[int, int, int], str | None, dict[str, Any] | None]) -> FileFacts:
    """Hash a file (unless its hash is known) and probe its header (unless ``old`` facts hold for these bytes);
    any reason it cannot be used goes to ``error``."""
    path, _, known, old = task
    try:
        sha256 = known or file_digest(path)
    except OSError as error:
        return FileFacts(error=_unreadable(error))
    if old is not None and old["sha256"] == sha256:
        return _cached_facts(old)
    try:
        info = probe(path)
    except (RejectedImage, *DECODER_ERRORS) as error:
        return FileFacts(sha256, error=str(error))
    return FileFacts(sha256, info.width, info.height, info.format, info.note)
