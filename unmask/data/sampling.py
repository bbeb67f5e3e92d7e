"""Seeded, stable choices of items: hashes that are the same everywhere, shards, samples of a folder."""

from __future__ import annotations

import hashlib
from pathlib import Path


def stable_hash(text: str, salt: str = "") -> int:
    """A 63-bit hash of ``text`` that is the same on every machine and Python run."""
    digest = hashlib.blake2b(f"{salt}\0{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def shard_of(shard_key: int, shards: int) -> int:
    """The shard an item belongs to; adding items never moves existing ones."""
    return shard_key % shards


def sample_paths(paths: list[Path], root: Path, count: int | None, seed: int) -> list[Path]:
    """At most ``count`` of ``paths``: a seeded choice that is stable as files are added, in sorted order."""
    if count is None or len(paths) <= count:
        return sorted(paths)
    ranked = sorted(paths, key=lambda p: stable_hash(p.relative_to(root).as_posix(), salt=str(seed)))
    return sorted(ranked[:count])
