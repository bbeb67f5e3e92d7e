"""``unmask crops``: face crops from a shard of videos (workflow stage)."""
from __future__ import annotations

import argparse
import json
import sys


def _crops(args: argparse.Namespace) -> int:
    from unmask.data.crops import crop_videos, shard_videos
    from unmask.io import write_parquet

    spec = json.loads(args.spec)
    videos = shard_videos(spec["sources"], args.shards, spec["seed"]).get(args.shard, [])
    table = crop_videos(videos, args.crops_dir, spec["frames"], spec["margin"], spec.get("yunet_model"))
    write_parquet(table, args.out)
    print(f"crops: {table.num_rows} frames of {len(videos)} videos", file=sys.stderr)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``unmask crops`` to the ``unmask`` sub-commands."""
    command = commands.add_parser(
        "crops", description="face crops from sampled frames of a shard of videos (workflow stage)"
    )
    command.add_argument(
        "--spec", required=True,
        help='JSON: {"sources": {...}, "seed": S, "frames": N, "margin": M, "yunet_model": P}',
    )
    command.add_argument("--shard", type=int, required=True, help="this shard's number, from 0")
    command.add_argument("--shards", type=int, required=True, help="number of shards")
    command.add_argument("--crops-dir", required=True, help="folder for the PNG crops")
    command.add_argument("--out", required=True, help="Parquet table of per-frame records")
    command.set_defaults(run=_crops)
