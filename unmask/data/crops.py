"""A shard of videos -> square face crops (PNG, native resolution) and one Parquet row per sampled frame."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pyarrow as pa

from unmask import VIDEO_SUFFIXES
from unmask.io import list_files
from unmask.data.sampling import sample_paths, shard_of, stable_hash
from unmask.data.video import FaceDetector, actor_ids, process_video, video_group

CROPS_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("video", pa.string()),  # the video's id within its source (relative path)
        ("path", pa.string()),  # the video file
        ("group", pa.string()),  # the original video it was made from
        ("actors", pa.string()),  # identities that may appear, "|"-separated, target first
        ("frame", pa.int32()),
        ("timestamp_ms", pa.float64()),
        ("crop", pa.string()),  # the PNG crop, or null
        ("x", pa.int32()),
        ("y", pa.int32()),
        ("size", pa.int32()),
        ("reason", pa.string()),  # why there is no crop
    ]
)


def list_videos(folder: str | Path) -> list[Path]:
    """Video files under ``folder``, searched recursively, sorted."""
    return list_files(folder, VIDEO_SUFFIXES)


def shard_videos(sources: dict[str, dict], shards: int, seed: int) -> dict[int, list[dict]]:
    """The videos of every video source (``{source, video, path}``), by shard of a stable hash of their id.

    A source's ``count`` keeps at most that many videos (a seeded, stable choice).
    """
    by_shard: dict[int, list[dict]] = {}
    for name in sorted(sources):
        root = Path(sources[name]["videos"])
        for path in sample_paths(list_videos(root), root, sources[name].get("count"), seed):
            video = path.relative_to(root).as_posix()
            shard = shard_of(stable_hash(f"{name}/{video}"), shards)
            by_shard.setdefault(shard, []).append({"source": name, "video": video, "path": str(path)})
    return dict(sorted(by_shard.items()))


def crop_videos(videos: list[dict], out_dir: str | Path, frames: int, margin: float, yunet_model: str | None) -> pa.Table:
    """Crop faces from ``frames`` sampled frames of each video (``{source, video, path}``) into ``out_dir/<source>/``."""
    detector = FaceDetector(yunet_model=yunet_model)
    rows, started = [], time.perf_counter()
    for done, video in enumerate(videos, start=1):
        records = process_video(video["path"], Path(out_dir) / video["source"], n=frames, margin=margin, detector=detector)
        for record in records:
            rows.append(
                {
                    "source": video["source"],
                    "video": video["video"],
                    "path": video["path"],
                    "group": video_group(video["path"]),
                    "actors": "|".join(actor_ids(video["path"])),
                    "frame": record.frame_index,
                    "timestamp_ms": record.timestamp_ms,
                    "crop": record.crop_path,
                    "x": record.x,
                    "y": record.y,
                    "size": record.size,
                    "reason": record.reason,
                }
            )
        cropped = sum(r.crop_path is not None for r in records)
        elapsed = time.perf_counter() - started
        print(f"crops: video {done}/{len(videos)} {video['path']}: {cropped}/{frames} faces ({elapsed:.0f} s)", file=sys.stderr)
    return pa.Table.from_pylist(rows, CROPS_SCHEMA)
