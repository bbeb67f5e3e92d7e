"""The manifest: one row per usable image, with a deterministic sample and a stable shard key."""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from unmask import LABELS
from unmask.acquire import read_file_list
from unmask.images import RejectedImage, list_images, probe
from unmask.io import atomic_output, file_digest

MANIFEST_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("path", pa.string()),
        ("label", pa.int8()),
        ("source", pa.string()),
        ("group", pa.string()),
        ("width", pa.int32()),
        ("height", pa.int32()),
        ("format", pa.string()),
        ("sha256", pa.string()),
        ("shard_key", pa.int64()),
    ]
)
REJECTS_SCHEMA = pa.schema(
    [("id", pa.string()), ("path", pa.string()), ("source", pa.string()), ("stage", pa.string()), ("reason", pa.string())]
)


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


def source_files(source: dict) -> tuple[Path, list[Path]]:
    """The root folder and image files of a configured source (a local folder or an acquired file list)."""
    root = Path(source["path"])
    if "file_list" in source:
        return root, [Path(row["path"]) for row in read_file_list(Path(source["file_list"]))]
    return root, list_images(root)


def build_manifest(
    sources: dict[str, dict], seed: int, image_size: tuple[int, int] | None = None
) -> tuple[pa.Table, pa.Table]:
    """Probe every selected file of every source; return (manifest, rejects) tables.

    A file that cannot be read, is not of the required ``(width, height)``, or
    repeats an earlier file's bytes is rejected with its reason instead of
    stopping the run.
    """
    rows, rejects, seen = [], [], {}
    for name in sorted(sources):
        source = sources[name]
        root, paths = source_files(source)
        for path in sample_paths(paths, root, source.get("count"), seed):
            item_id = f"{name}/{path.relative_to(root).as_posix()}" if path.is_relative_to(root) else f"{name}/{path.name}"
            try:
                info = probe(path)
                if image_size and (info.width, info.height) != tuple(image_size):
                    raise RejectedImage(f"{info.width}x{info.height} pixels, the dataset requires {image_size[0]}x{image_size[1]}")
                digest = file_digest(path)
                if digest in seen:
                    raise RejectedImage(f"same bytes as {seen[digest]}")
            except (RejectedImage, OSError) as error:
                rejects.append({"id": item_id, "path": str(path), "source": name, "stage": "manifest", "reason": str(error)})
                continue
            seen[digest] = item_id
            rows.append(
                {
                    "id": item_id,
                    "path": str(path),
                    "label": LABELS[source["label"]],
                    "source": name,
                    "group": item_id,
                    "width": info.width,
                    "height": info.height,
                    "format": info.format,
                    "sha256": digest,
                    "shard_key": stable_hash(item_id),
                }
            )
            if len(rows) % 1000 == 0:
                print(f"manifest: {len(rows)} images probed", file=sys.stderr)
    return pa.Table.from_pylist(rows, MANIFEST_SCHEMA), pa.Table.from_pylist(rejects, REJECTS_SCHEMA)


def write_table(table: pa.Table, path: str | Path) -> None:
    """Write a Parquet table atomically."""
    with atomic_output(path) as tmp:
        pq.write_table(table, tmp)
