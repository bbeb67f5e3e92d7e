"""Images from a zip, tar(.gz/.bz2/.xz) or 7z archive (CelebA-HQ, CelebA), extracted safely.

Spec keys: ``url`` or ``drive_id`` (+ ``drive_base``) to download, or
``file`` for a local archive; ``filename`` (download name, default the
URL's base name or ``<drive_id>.archive``); ``archive_size``, ``sha256``,
``md5`` (optional checks of the archive file); ``members`` (glob or list of globs matched per path
segment, so ``dataset_celebA/*.jpg`` takes top-level files only; default
all); ``count`` (first N selected members by name; default all);
``max_size`` (total uncompressed bytes, default 100 GiB); ``keep_archive``
(default true); ``download``.

The format is detected from the file's content. Absolute paths, ``..``,
links, special files, members inside ``_archive/`` and a member that is both
a file and a folder of another (``x.jpg`` and ``x.jpg/y.jpg``) are rejected
among the selected members before anything is written. A downloaded archive
lives in ``_archive/``; a record there of what was extracted lets a rerun
skip the archive entirely.
"""

from __future__ import annotations

import json
import posixpath
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import py7zr

from unmask import IMAGE_SUFFIXES
from unmask.data.acquire.download import Downloader, Item, Options, verify
from unmask.data.acquire.google_drive import source_url
from unmask.io import atomic_output, write_text
from unmask.log import progress

MAX_SIZE = 100 * 2**30
ARCHIVE_DIR = "_archive"


class ArchiveError(ValueError):
    """An archive is unsafe, too large or not an archive."""


@dataclass(frozen=True)
class Member:
    """An archive entry: its path, declared size, kind ('file', 'dir', 'link', 'special')."""

    name: str
    size: int
    kind: str
    ref: object = None  # the format's own entry object


def acquire(spec: dict, dest: Path) -> list[Path]:
    """Extract the selected members of the source's archive into ``dest``; return the images."""
    selection = {k: spec.get(k) for k in ("members", "count")}
    local = spec.get("file")
    archive = Path(local) if local else dest / ARCHIVE_DIR / _filename(spec)
    record = dest / ARCHIVE_DIR / f"{archive.name}.extracted.json"
    done = _recorded(record, selection, dest)
    if done is not None:
        return _images(done)
    item = Item(
        str(archive) if local else source_url(spec),
        archive,
        spec.get("archive_size"),
        spec.get("md5"),
        spec.get("sha256"),
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
    """Safely extract the members matching ``patterns`` (first ``count`` by name); return their paths."""
    opener, lister, writer = _format(archive)
    with opener(archive) as handle:
        members = [m for m in lister(handle) if m.kind != "dir" and _selected(m.name, patterns)]
        members = sorted(members, key=lambda m: m.name)[:count]
        names = {posixpath.normpath(m.name.replace("\\", "/")) for m in members}
        for m in members:
            problem = _unsafe(m, names)
            if problem:
                raise ArchiveError(f"{archive}: member {m.name!r} rejected: {problem}")
        total = sum(m.size for m in members)
        if total > max_size:
            raise ArchiveError(f"{archive}: selected members hold {total} bytes uncompressed, over max_size {max_size}")
        todo = [m for m in members if not _present(dest / m.name, m.size)]
        if todo:
            writer(handle, archive, todo, dest, max_size)
    return [dest / m.name for m in members]


def _format(archive: Path):
    """(open, list members, write members) for the archive's detected format."""
    if py7zr.is_7zfile(archive):
        return lambda p: py7zr.SevenZipFile(p, "r"), _members_7z, _write_7z
    if zipfile.is_zipfile(archive):
        return lambda p: zipfile.ZipFile(p), _members_zip, _write_streams
    if tarfile.is_tarfile(archive):
        return lambda p: tarfile.open(p, "r:*"), _members_tar, _write_streams
    raise ArchiveError(f"{archive}: not a zip, tar or 7z archive")


def _members_zip(zf: zipfile.ZipFile) -> list[Member]:
    out = []
    for info in zf.infolist():
        mode = info.external_attr >> 16
        kind = (
            "dir"
            if info.is_dir()
            else "link"
            if stat.S_ISLNK(mode)
            else "special"
            if mode and stat.S_IFMT(mode) and not stat.S_ISREG(mode)
            else "file"
        )
        out.append(Member(info.filename, info.file_size, kind, info))
    return out


def _members_tar(tf: tarfile.TarFile) -> list[Member]:
    return [
        Member(
            m.name,
            m.size,
            "dir" if m.isdir() else "file" if m.isreg() else "link" if m.issym() or m.islnk() else "special",
            m,
        )
        for m in tf.getmembers()
    ]


def _members_7z(sz: py7zr.SevenZipFile) -> list[Member]:
    out = []
    for f in sz.files:
        kind = (
            "dir" if f.is_directory else "link" if f.is_symlink or f.is_junction else "file" if f.is_file else "special"
        )
        out.append(Member(f.filename, f.uncompressed or 0, kind, f))
    return out


def _write_streams(handle, archive: Path, members: list[Member], dest: Path, max_size: int) -> None:
    """Copy zip/tar members to their paths, each atomically, stopping past ``max_size`` bytes."""
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


def _unsafe(m: Member, names: set[str]) -> str | None:
    """Why a member must not be extracted beside the other selected ``names`` (normalised), or None."""
    name = m.name.replace("\\", "/")
    if name.startswith("/") or re.match(r"[A-Za-z]:", name):
        return "absolute path"
    if ".." in name.split("/"):
        return "'..' in path"
    if m.kind in ("link", "special"):
        return f"{m.kind} entry"
    parts = posixpath.normpath(name).split("/")
    if parts[0] == ARCHIVE_DIR:
        return f"inside {ARCHIVE_DIR}/, where the download and its record are kept (leave it out with `members`)"
    folders = ["/".join(parts[:i]) for i in range(1, len(parts))]
    if clash := next((f for f in folders if f in names), None):
        return f"{clash!r} is a file in the archive and also a folder of this member"
    return None


def _selected(name: str, patterns: str | list[str] | None) -> bool:
    """Whether ``name`` matches one of the globs segment by segment (``*`` stays within a folder)."""
    if patterns is None:
        return True
    parts = posixpath.normpath(name).split("/")
    for pattern in [patterns] if isinstance(patterns, str) else patterns:
        globs = pattern.split("/")
        if len(globs) == len(parts) and all(map(fnmatchcase, parts, globs)):
            return True
    return False


def _present(path: Path, size: int) -> bool:
    return path.is_file() and path.stat().st_size == size


def _filename(spec: dict) -> str:
    """Where a downloaded archive is saved: ``filename``, the URL's base name or ``<drive_id>.archive``."""
    if spec.get("filename"):
        return spec["filename"]
    if spec.get("url"):
        return posixpath.basename(spec["url"].split("?")[0]) or "source.archive"
    return f"{spec.get('drive_id', 'source')}.archive"


def _recorded(record: Path, selection: dict, dest: Path) -> list[Path] | None:
    """The files a previous extraction with the same selection recorded, if all are intact."""
    if not record.is_file():
        return None
    data = json.loads(record.read_text())
    if data.get("selection") != selection:
        return None
    files = {dest / name: size for name, size in data["files"].items()}
    return list(files) if all(_present(p, s) for p, s in files.items()) else None


def _images(paths: list[Path]) -> list[Path]:
    return [p for p in paths if p.suffix.lower() in IMAGE_SUFFIXES]
