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
