"""Tar members pass ``tarfile.data_filter`` before anything is written."""

from __future__ import annotations

import io
import tarfile

import pytest

from unmask.data.acquire import archive as archive_method
from unmask.data.acquire.archive import ArchiveError


def test_tar_member_through_a_link_out_of_the_folder_is_refused(tmp_path):
    """A folder in ``dest`` that links elsewhere must not lead a member out of ``dest``."""
    outside, dest = tmp_path / "outside", tmp_path / "dest"
    outside.mkdir()
    dest.mkdir()
    (dest / "faces").symlink_to(outside)
    path = tmp_path / "x.tar"
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("faces/a.jpg")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"1"))
    with pytest.raises(ArchiveError, match=r"'faces/a.jpg' rejected: .*outside the destination"):
        archive_method.extract(path, dest)
    assert not list(outside.iterdir())


@pytest.mark.parametrize(("offset", "error"), [(8, "Bad7zFile"), (44, "LZMAError")])
def test_a_malformed_7z_is_an_archive_error_not_a_traceback(tmp_path, offset, error):
    """Before: py7zr's own exceptions (Bad7zFile, LZMAError; IndexError on a broken symlink entry) left
    ``unmask acquire`` with a traceback."""
    import os

    import py7zr

    (tmp_path / "a.png").write_bytes(b"hi\n")
    os.utime(tmp_path / "a.png", (0, 0))
    path = tmp_path / "x.7z"
    with py7zr.SevenZipFile(path, "w") as sz:
        sz.write(tmp_path / "a.png", "a.png")
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(data)
    with pytest.raises(ArchiveError, match=rf"^{path}: a malformed archive \({error}: "):
        archive_method.extract(path, tmp_path / "dest")


def test_a_malformed_7z_over_a_url_is_an_archive_error_too(tmp_path):
    import py7zr
    from acquire_server import LocalServer

    (tmp_path / "a.png").write_bytes(b"hi\n")
    path = tmp_path / "x.7z"
    with py7zr.SevenZipFile(path, "w") as sz:
        sz.write(tmp_path / "a.png", "a.png")
    data = bytearray(path.read_bytes())
    data[8] ^= 0xFF
    with LocalServer() as server:
        server.add("/x.7z", bytes(data))
        spec = {"method": "archive", "url": server.url("/x.7z"), "download": {"retries": 0}}
        with pytest.raises(ArchiveError, match=r"x\.7z: a malformed archive \(Bad7zFile: "):
            archive_method.acquire(spec, tmp_path / "dest")
