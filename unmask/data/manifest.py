"""The manifest: one row per usable image, with a deterministic sample and a stable shard key."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from unmask import LABELS
from unmask.data.file_list import read_file_list
from unmask.data.images import RejectedImage, list_images, probe
from unmask.data.sampling import sample_paths, stable_hash
from unmask.io import file_digest

MANIFEST_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("path", pa.string()),
        ("label", pa.int8()),
        ("source", pa.string()),
        ("group", pa.string()),  # items of one group never fall in both splits
        ("video", pa.string()),  # for face crops: the video's id within its source
        ("frame", pa.int32()),  # for face crops: the frame index
        ("original", pa.string()),  # for face crops: the video or photo it was cut from
        ("crop_x", pa.int32()),  # for face crops: the square's top-left corner and side in the original's pixels
        ("crop_y", pa.int32()),
        ("crop_size", pa.int32()),
        ("detector", pa.string()),  # for face crops: the face detector
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


@dataclass(frozen=True)
class Candidate:
    """An image that may enter the manifest: a file, or a face crop of a photo or of one video frame."""

    id: str
    path: Path
    group: str
    video: str | None = None
    frame: int | None = None
    crop: dict | None = None  # for face crops: original, crop_x, crop_y, crop_size, detector


def image_candidates(name: str, source: dict, seed: int) -> list[Candidate]:
    """The selected images of a local folder or an acquired file list; each image is its own group."""
    root = Path(source["path"])
    if "file_list" in source:
        paths = [Path(row["path"]) for row in read_file_list(Path(source["file_list"]))]
    else:
        paths = list_images(root)
    candidates = []
    for path in sample_paths(paths, root, source.get("count"), seed):
        item_id = f"{name}/{path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name}"
        candidates.append(Candidate(item_id, path, group=item_id))
    return candidates


def crop_candidates(name: str, source: dict, split_by: str) -> tuple[list[Candidate], list[dict]]:
    """Face crops of a video or image source from its crop tables, and the frames or images that have none (as rejects).

    The group is the original video (``split_by: video``) or the target actor
    (``split_by: actor``), so that no video or actor falls in both splits.
    """
    candidates, rejects = [], {}
    for table in source["crop_tables"]:
        crops = pq.read_table(table)
        for record in crops.filter(pc.equal(crops["source"], name)).to_pylist():
            frame = "no-frame" if record["frame"] is None else f"{record['frame']:06d}"
            item_id = f"{name}/{record['image']}" if record.get("image") else f"{name}/{record['video']}/{frame}"
            if record["crop"] is None:  # samples that do not exist share one id and reason: keep one
                rejects[item_id, record["reason"]] = {
                    "id": item_id, "path": record["path"], "source": name, "stage": "crops", "reason": record["reason"]
                }
                continue
            group = record["actors"].split("|")[0] if split_by == "actor" and record["actors"] else record["group"]
            box = {"original": record["path"], "crop_x": record["x"], "crop_y": record["y"],
                   "crop_size": record["size"], "detector": record.get("detector")}
            candidates.append(Candidate(item_id, Path(record["crop"]), group, record["video"], record["frame"], box))
    return candidates, list(rejects.values())


def build_manifest(
    sources: dict[str, dict], seed: int, image_size: tuple[int, int] | None = None, split_by: str = "video"
) -> tuple[pa.Table, pa.Table]:
    """Probe every selected image (or face crop) of every source; return (manifest, rejects) tables.

    A file that cannot be read, is not of the required ``(width, height)``, or
    repeats an earlier file's bytes is rejected with its reason instead of
    stopping the run; so is a video frame without a face crop.
    """
    rows, rejects, seen = [], [], {}
    for name in sorted(sources):
        source = sources[name]
        if "crop_tables" in source:
            candidates, crop_rejects = crop_candidates(name, source, split_by)
            rejects += crop_rejects
        else:
            candidates = image_candidates(name, source, seed)
        for item in candidates:
            try:
                info = probe(item.path)
                if image_size and (info.width, info.height) != tuple(image_size):
                    raise RejectedImage(f"{info.width}x{info.height} pixels, the dataset requires {image_size[0]}x{image_size[1]}")
                digest = file_digest(item.path)
                if digest in seen:
                    raise RejectedImage(f"same bytes as {seen[digest]}")
            except (RejectedImage, OSError) as error:
                rejects.append({"id": item.id, "path": str(item.path), "source": name, "stage": "manifest", "reason": str(error)})
                continue
            seen[digest] = item.id
            rows.append(
                {
                    "id": item.id,
                    "path": str(item.path),
                    "label": LABELS[source["label"]],
                    "source": name,
                    "group": item.group,
                    "video": item.video,
                    "frame": item.frame,
                    **(item.crop or {}),
                    "width": info.width,
                    "height": info.height,
                    "format": info.format,
                    "sha256": digest,
                    "shard_key": stable_hash(item.id),
                }
            )
            if len(rows) % 1000 == 0:
                print(f"manifest: {len(rows)} images probed", file=sys.stderr)
    return pa.Table.from_pylist(rows, MANIFEST_SCHEMA), pa.Table.from_pylist(rejects, REJECTS_SCHEMA)
