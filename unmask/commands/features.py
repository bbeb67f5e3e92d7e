"""``unmask features``: the features of one manifest shard (workflow stage)."""

from __future__ import annotations

import argparse
import logging

from unmask.features import spectrum

logger = logging.getLogger(__name__)


def _features(args: argparse.Namespace) -> int:
    from unmask.data.images import PixelLimit
    from unmask.features.extract import extract_shard

    variant = spectrum.get_variant(args.variant, args.length)
    limit = PixelLimit(args.max_pixels, args.max_pixels_setting) if args.max_pixels else None
    rejected = extract_shard(args.manifest, args.shard, args.shards, variant, args.out, args.reencode, limit)
    logger.info(f"features: shard {args.shard}/{args.shards} done, {rejected} rejected")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``unmask features`` to the ``unmask`` sub-commands."""
    command = commands.add_parser("features", description="features of one manifest shard (workflow stage)")
    command.add_argument("--manifest", required=True, help="the dataset's manifest (Parquet)")
    command.add_argument("--shard", type=int, required=True, help="this shard's number, from 0")
    command.add_argument("--shards", type=int, required=True, help="number of shards")
    command.add_argument("--variant", required=True, choices=sorted(spectrum.VARIANTS), help="feature definition")
    command.add_argument("--length", type=int, help="resample spectra to this many points")
    command.add_argument("--reencode", type=int, help="re-encode every image as JPEG at this quality first")
    command.add_argument("--max-pixels", type=int, help="reject images with more pixels (read from the header)")
    command.add_argument("--max-pixels-setting", default="--max-pixels", help="the setting to name in that reason")
    command.add_argument("--out", required=True, help="the shard's features (Parquet)")
    command.set_defaults(run=_features)
