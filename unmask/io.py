"""Atomic file writes: every output appears under its final name complete, or not at all."""

from __future__ import annotations

import errno
import glob
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds.

    Once it has, the temporaries that writers of ``path`` killed mid-write left behind are removed too.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stem = _temp_stem(path.name)
    fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes files private; outputs get the usual permissions
        os.replace(tmp, path)
        random_part = "?" * (len(tmp.name) - len(f".{stem}..tmp"))  # mkstemp's random letters
        for stale in path.parent.glob(f".{glob.escape(stem)}.{random_part}.tmp"):
            stale.unlink(missing_ok=True)
    finally:
        tmp.unlink(missing_ok=True)


def _temp_stem(name: str) -> str:
    """The name a temporary file starts with: ``name``, or its hash when the temporary would pass 255 bytes."""
    if len(name.encode()) <= 200:
        return name
    return hashlib.sha256(name.encode()).hexdigest()[:32]


def write_parquet(table, path: str | os.PathLike) -> None:
    """Write a pyarrow table to Parquet atomically."""
    import pyarrow.parquet as pq

    with atomic_output(path) as tmp:
        pq.write_table(table, tmp)


# control characters (C0, DEL, C1) -> Python's escapes: a file name with ESC or a newline stays one inert cell
CONTROL_ESCAPES = {code: repr(chr(code))[1:-1] for code in [*range(0x20), *range(0x7F, 0xA0)]}


def write_csv(frame, path: str | os.PathLike) -> None:
    """Write a pandas DataFrame to CSV atomically (floats to 6 significant digits, control characters in text
    escaped as ``\\x1b``, ``\\n``)."""
    frame = frame.copy()
    for column in [name for name, dtype in frame.dtypes.items() if dtype.kind not in "biufcmM"]:  # text columns
        frame[column] = frame[column].map(
            lambda cell: cell.translate(CONTROL_ESCAPES) if isinstance(cell, str) else cell
        )
    with atomic_output(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest (sha256, md5, ...) of a file (``hashlib.file_digest``, which reads it in chunks)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algorithm).hexdigest()


@dataclass(frozen=True)
class Listing:
    """The files of a folder tree, and the entries left out with the reason for each."""

    files: list[Path]
    skipped: list[tuple[Path, str]]


def scan_files(folder: str | os.PathLike, suffixes: tuple[str, ...]) -> Listing:
    """Files under ``folder`` with one of ``suffixes`` (any case), searched recursively, sorted; and what was skipped.

    Links to files are listed like files. Links to folders are followed, each
    real folder is listed once: folders reached without a link first, then
    links in sorted order; a link to a folder listed already (a loop, or a
    second route) is skipped. Skipped with a reason: broken links, link loops,
    folders named like a file we look for, other entries (FIFOs, sockets,
    devices) so named, and folders that cannot be read.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"folder {folder} does not exist")
    files: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    listed: dict[tuple[int, int], Path] = {}  # (device, inode) of each folder walked -> the path it was listed as
    folders: list[Path] = [root]
    links: list[Path] = []
    while folders or links:
        if not folders:
            links.sort()
            link = links.pop(0)
            try:
                identity = _identity(link)
            except OSError:  # gone since it was seen
                skipped.append((link, _broken_link(link)))
                continue
            if identity in listed:
                skipped.append((link, _second_route(link, listed[identity])))
                continue
            folders.append(link)
        current = folders.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda entry: entry.name)
        except OSError as error:
            skipped.append((current, f"folder cannot be read ({error.strerror})"))
            continue
        listed.setdefault(_identity(current), current)
        for entry in entries:
            path = current / entry.name
            wanted = path.suffix.lower() in suffixes
            try:
                is_dir, is_file = entry.is_dir(), entry.is_file()  # both follow links
            except OSError:
                is_dir = is_file = False
            if entry.is_symlink() and not (is_dir or is_file):
                skipped.append((path, _broken_link(path)))
            elif is_dir:
                if wanted:
                    skipped.append((path, "a folder, not a file (its contents are searched)"))
                (links if entry.is_symlink() else folders).append(path)
            elif wanted and is_file:
                files.append(path)
            elif wanted:
                skipped.append((path, "not a regular file (a FIFO, socket or device)"))
    return Listing(sorted(files), sorted(skipped))


def _identity(folder: Path) -> tuple[int, int]:
    stat = folder.stat()
    return stat.st_dev, stat.st_ino


def _broken_link(path: Path) -> str:
    try:
        path.stat()
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symbolic link loop (the link resolves to itself)"
        return f"broken symbolic link (target {os.readlink(path)} is missing)"
    return "symbolic link to something that is neither a file nor a folder"


def _second_route(link: Path, listed: Path) -> str:
    if link.parent.resolve().is_relative_to(listed.resolve()):
        return f"symbolic link loop (links back to {listed}, which is listed already)"
    return f"link to a folder listed already as {listed} (each folder is listed once)"


def list_files(folder: str | os.PathLike, suffixes: tuple[str, ...]) -> list[Path]:
    """Files under ``folder`` with one of ``suffixes``, as ``scan_files`` finds them (without the skipped entries)."""
    return scan_files(folder, suffixes).files
