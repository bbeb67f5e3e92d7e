"""Atomic writes: complete outputs or none, and no temporaries left behind by killed writers."""

from __future__ import annotations

import pyarrow as pa
import pytest

from unmask.io import atomic_output, write_parquet


def test_a_successful_write_removes_what_killed_writers_left(tmp_path):
    stale = [tmp_path / ".shard-1.parquet.k2j4_x9q.tmp", tmp_path / ".shard-1.parquet.00000000.tmp"]
    others = [tmp_path / ".shard-10.parquet.k2j4_x9q.tmp", tmp_path / ".shard-1.parquet.tmp", tmp_path / "notes.tmp"]
    for path in stale + others:
        path.write_bytes(b"half a shard")
    write_parquet(pa.table({"x": [1, 2]}), tmp_path / "shard-1.parquet")
    assert not any(path.exists() for path in stale)
    assert all(path.exists() for path in others), "temporaries of other outputs stay"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["shard-1.parquet", *(p.name for p in others)])


def test_a_failed_write_leaves_the_old_output_and_no_temporary(tmp_path):
    target = tmp_path / "table.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [target]


def test_control_characters_in_csv_cells_are_escaped_and_a_long_name_gets_a_short_temporary(tmp_path):
    """Before: a file name's raw ESC bytes reached rejects.csv; a 250-byte output name failed with Errno 36."""
    import pandas as pd

    from unmask.io import write_csv

    frame = pd.DataFrame({"path": ["cams/\x1b[2Jevil.png", "a\nb.png", None], "size": [1, 2, 3]})
    write_csv(frame, tmp_path / "rejects.csv")
    assert (tmp_path / "rejects.csv").read_text() == "path,size\ncams/\\x1b[2Jevil.png,1\na\\nb.png,2\n,3\n"
    long = tmp_path / ("n" * 250 + ".png")
    with atomic_output(long) as tmp:
        assert len(tmp.name) < 60
        tmp.write_bytes(b"x")
    assert long.read_bytes() == b"x"
