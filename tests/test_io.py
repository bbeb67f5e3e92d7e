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
