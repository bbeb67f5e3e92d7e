"""``unmask crops``: face crops from a shard of videos and images (workflow stage)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

logger = logging.getLogger(__name__)


def _crops(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from unmask.data.crops import crop_images, crop_videos, shard_images, shard_videos
    from unmask.data.images import PixelLimit
    from unmask.io import write_parquet

    spec = json.loads(args.spec)
    videos = shard_videos(spec["sources"], args.shards, spec["seed"]).get(args.shard, [])
    images = shard_images(spec.get("images", {}), args.shards, spec["seed"]).get(args.shard, [])
    limit = PixelLimit(**spec["pixel_limit"])
    Path(args.crops_dir).mkdir(parents=True, exist_ok=True)  # the job's output, even when no face is found
    table = pa.concat_tables(
        [
            crop_videos(videos, args.crops_dir, spec["frames"], spec["faces"], limit),
            crop_images(images, args.crops_dir, spec["faces"], limit),
        ]
    )
    write_parquet(table, args.out)
    logger.info(f"crops: {table.num_rows} rows from {len(videos)} videos and {len(images)} images")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``unmask crops`` to the ``unmask`` sub-commands."""
    command = commands.add_parser("crops", description="face crops from a shard of videos and images (workflow stage)")
    command.add_argument(
        "--spec",
        required=True,
        help='JSON: {"sources": {video sources}, "images": {image sources}, "seed": S, "frames": N, "faces": {...}, '
        '"pixel_limit": {"pixels": N, "setting": "datasets.<name>.max_pixels"}}',
    )
    command.add_argument("--shard", type=int, required=True, help="this shard's number, from 0")
    command.add_argument("--shards", type=int, required=True, help="number of shards")
    command.add_argument("--crops-dir", required=True, help="folder for the PNG crops")
    command.add_argument("--out", required=True, help="Parquet table of per-frame and per-image records")
    command.set_defaults(run=_crops)
