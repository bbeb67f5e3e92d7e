"""Images from a zip, tar or 7z archive (CelebA-HQ, CelebA), extracted safely; the format is told by content.

Unsafe selected members are refused before anything is written (docs/acquisition.md lists the checks). A
downloaded archive lives in ``_archive/``, beside a record of what was extracted that lets a rerun skip it.
"""

from __future__ import annotations

import json
import lzma
import posixpath
import re
import shutil
import stat
import struct
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import py7zr

from unmask import IMAGE_SUFFIXES
from unmask.data.acquire.download import Downloader, Item, Options, verify
from unmask.data.acquire.google_drive import source_url
from unmask.io import atomic_output, write_text
from unmask.log import progress

MAX_SIZE = 100 * 2**30
# What the readers raise on malformed input (py7zr: Bad7zFile and IndexError on a broken symlink entry):
# one bad archive, not a bug. OSError stays out: a full disk is not the archive's fault.
MALFORMED = (
    py7zr.exceptions.ArchiveError,
    zipfile.BadZipFile,
    tarfile.TarError,
    lzma.LZMAError,
    zlib.error,
    EOFError,
    IndexError,
    KeyError,
    ValueError,
    struct.error,
)
ARCHIVE_DIR = "_archive"


class ArchiveError(ValueError):
    """An archive is unsafe, too large or not an archive."""


@dataclass(frozen=True)
class Member:
    """An archive entry: its path, declared size, kind ('file', 'dir', 'link', 'special') and the format's own entry."""

    name: str
    size: int
    kind: str
    ref: object = None


def acquire(spec: dict[str, Any], dest: Path) -> list[Path]:
    """Extract the selected members of the source's archive into ``dest``; return the images."""
    selection = {k: spec.get(k) for k in ("members", "count")}
    local = spec.get("file")
    archive = Path(local) if local else dest / ARCHIVE_DIR / _filename(spec)
    record = dest / ARCHIVE_DIR / f"{archive.name}.extracted.json"
    if (done := _recorded(record, selection, dest)) is not None:
        return _images(done)
    size, md5, sha256 = (spec.get(k) for k in ("archive_size", "md5", "sha256"))
    item = Item(
        str(archive) if local else source_url(spec),
        archive,
        size,
        md5,
        sha256,
        max_bytes=spec.get("max_size", MAX_SIZE),  # where archive_size is not declared
    )
    if not local:
        Downloader(Options.from_spec(spec)).fetch_all([item], dest).check()
    elif not archive.is_file():
        raise ArchiveError(f"{archive}: no such file")
    elif problem := verify(archive, item):
        raise ArchiveError(f"{archive}: {problem}")
    files = extract(archive, dest, spec.get("members"), spec.get("count"), spec.get("max_size", MAX_SIZE))
    write_text(
        record,
        json.dumps({"selection": selection, "files": {str(p.relative_to(dest)): p.stat().st_size for p in files}}),
    )
    if not local and not spec.get("keep_archive", True):
        archive.unlink()
    return _images(files)


def extract(
    archive: Path,
    dest: Path,
    patterns: str | list[str] | None = None,
    count: int | None = None,
    max_size: int = MAX_SIZE,
) -> list[Path]:
    """Safely extract the members matching ``patterns`` (first ``count`` by name); return their paths.

    Whatever the format's reader raises on a malformed archive (py7zr, zipfile, tarfile, lzma) is an
    ``ArchiveError`` naming the archive."""
    opener, lister, writer = _format(archive)
    try:
        return _extract(archive, dest, patterns, count, max_size, opener, lister, writer)
    except ArchiveError:
        raise
    except MALFORMED as error:
        raise ArchiveError(f"{archive}: a malformed archive ({type(error).__name__}: {error})") from None


def _extract(
    archive: Path,
    dest: Path,
    patterns: str | list[str] | None,
    count: int | None,
    max_size: int,
    opener: Callable[[Path], Any],
    lister: Callable[[Any], list[Member]],
    writer: Callable[[Any, Path, list[Member], Path, int], None],
) -> list[Path]:
    with opener(archive) as handle:
        members = sorted(
            (m for m in lister(handle) if m.kind != "dir" and _selected(m.name, patterns)), key=lambda m: m.name
        )[:count]
        names = {posixpath.normpath(m.name.replace("\\", "/")) for m in members}
        for m in members:
            if problem := _unsafe(m, names, dest):
                raise ArchiveError(f"{archive}: member {m.name!r} rejected: {problem}")
        if (total := sum(m.size for m in members)) > max_size:
            raise ArchiveError(f"{archive}: selected members hold {total} bytes uncompressed, over max_size {max_size}")
        if todo := [m for m in members if not _present(dest / m.name, m.size)]:
            writer(handle, archive, todo, dest, max_size)
    return [dest / m.name for m in members]


def _format(archive: Path) -> tuple[Callable[[Path], Any], Callable[[Any], list[Member]], Callable[..., None]]:
    """(open, list members, write members) for the archive's detected format."""
    if py7zr.is_7zfile(archive):
        return lambda p: py7zr.SevenZipFile(p, "r"), _members_7z, _write_7z
    if zipfile.is_zipfile(archive):
        return zipfile.ZipFile, _members_zip, _write_streams
    if tarfile.is_tarfile(archive):
        return tarfile.open, _members_tar, _write_streams
    raise ArchiveError(f"{archive}: not a zip, tar or 7z archive")


def _members_zip(zf: zipfile.ZipFile) -> list[Member]:
    def kind(info: zipfile.ZipInfo) -> str:
        mode = info.external_attr >> 16
        if info.is_dir():
            return "dir"
        return "link" if stat.S_ISLNK(mode) else "special" if stat.S_IFMT(mode) and not stat.S_ISREG(mode) else "file"

    return [Member(info.filename, info.file_size, kind(info), info) for info in zf.infolist()]


def _members_tar(tf: tarfile.TarFile) -> list[Member]:
    def kind(m: tarfile.TarInfo) -> str:
        return "dir" if m.isdir() else "file" if m.isreg() else "link" if m.issym() or m.islnk() else "special"

    return [Member(m.name, m.size, kind(m), m) for m in tf.getmembers()]


def _members_7z(sz: py7zr.SevenZipFile) -> list[Member]:
    def kind(f: Any) -> str:
        return (
            "dir" if f.is_directory else "link" if f.is_symlink or f.is_junction else "file" if f.is_file else "special"
        )

    return [Member(f.filename, f.uncompressed or 0, kind(f), f) for f in sz.files]


def _write_streams(handle: Any, archive: Path, members: list[Member], dest: Path, max_size: int) -> None:
    """Copy zip/tar members to their paths, each atomically, stopping past ``max_size`` bytes written."""
    written = 0
    for m in progress(members, total=len(members), unit="file", desc=f"extract {archive.name}"):
        src = handle.open(m.ref) if isinstance(handle, zipfile.ZipFile) else handle.extractfile(m.ref)
        with src, atomic_output(dest / m.name) as tmp, open(tmp, "wb") as out:
            while block := src.read(1 << 20):
                written += len(block)
                if written > max_size:
                    raise ArchiveError(f"{archive}: extraction passed max_size {max_size} bytes at member {m.name!r}")
                out.write(block)


def _write_7z(handle: py7zr.SevenZipFile, archive: Path, members: list[Member], dest: Path, max_size: int) -> None:
    """Extract 7z members into a staging folder, check their sizes, move them into place."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".extract-", dir=dest) as staging:
        handle.extract(path=staging, targets={m.name for m in members})
        for m in members:
            staged = Path(staging, m.name)
            if not staged.is_file() or staged.is_symlink() or staged.stat().st_size != m.size:
                raise ArchiveError(f"{archive}: member {m.name!r} did not extract as a regular file of {m.size} bytes")
            (dest / m.name).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(staged, dest / m.name)


def _unsafe(m: Member, names: set[str], dest: Path) -> str | None:
    """Why a member must not be extracted into ``dest`` beside the other selected ``names`` (normalised), or None."""
    name = m.name.replace("\\", "/")
    parts = posixpath.normpath(name).split("/")
    folders = {"/".join(parts[:i]) for i in range(1, len(parts))}
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "absolute path"
    if ".." in name.split("/"):
        return "'..' in path"
    if m.kind in ("link", "special"):
        return f"{m.kind} entry"
    if parts[0] == ARCHIVE_DIR:
        return f"inside {ARCHIVE_DIR}/, where the download and its record are kept (leave it out with `members`)"
    if clash := sorted(folders & names):
        return f"{clash[0]!r} is a file in the archive and also a folder of this member"
    if isinstance(m.ref, tarfile.TarInfo):
        try:
            tarfile.data_filter(m.ref, str(dest))
        except tarfile.FilterError as e:
            return str(e)
    return None


def _selected(name: str, patterns: str | list[str] | None) -> bool:
    """Whether ``name`` matches one of the globs segment by segment (``*`` stays within a folder)."""
    parts = posixpath.normpath(name).split("/")
    globs = [pattern.split("/") for pattern in ([patterns] if isinstance(patterns, str) else patterns or [])]
    return patterns is None or any(len(g) == len(parts) and all(map(fnmatchcase, parts, g)) for g in globs)


def _present(path: Path, size: int) -> bool:
    return path.is_file() and path.stat().st_size == size


def _filename(spec: dict[str, Any]) -> str:
    """Where a downloaded archive is saved: ``filename``, the URL's base name or ``<drive_id>.archive``."""
    if spec.get("url"):
        return spec.get("filename") or posixpath.basename(spec["url"].split("?")[0]) or "source.archive"
    return spec.get("filename") or f"{spec.get('drive_id', 'source')}.archive"


def _recorded(record: Path, selection: dict[str, Any], dest: Path) -> list[Path] | None:
    """The files a previous extraction with the same selection recorded, if all are intact."""
    data = json.loads(record.read_text()) if record.is_file() else {}
    files = {dest / name: size for name, size in data.get("files", {}).items()}
    if data.get("selection") == selection and all(_present(p, s) for p, s in files.items()):
        return list(files)
    return None


def _images(paths: list[Path]) -> list[Path]:
    return [p for p in paths if p.suffix.lower() in IMAGE_SUFFIXES]
