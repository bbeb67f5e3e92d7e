"""``unmask families`` and ``unmask families-table``: feature families of a shard, and their comparison (workflow stages)."""

from __future__ import annotations

import argparse
import json
import logging

from unmask.commands import PROTOCOL_HELP

logger = logging.getLogger(__name__)


def _families(args: argparse.Namespace) -> int:
    from unmask.data.harmonise import Harmonise
    from unmask.data.images import PixelLimit
    from unmask.features.families import band_controls, parse_spec
    from unmask.features.family_shards import extract_shard

    spec = json.loads(args.spec)
    specs = band_controls([parse_spec(item) for item in spec["families"]], spec["band_split"])
    limit = PixelLimit(args.max_pixels, args.max_pixels_setting) if args.max_pixels else None
    harmonise = Harmonise.of(spec.get("harmonise"))
    flagged = extract_shard(
        args.manifest, args.shard, args.shards, specs, args.out, harmonise, limit, spec.get("spectrum_length")
    )
    logger.info(f"families: shard {args.shard}/{args.shards} done, {flagged} images with a rejected family")
    return 0


def _families_table(args: argparse.Namespace) -> int:
    from unmask.analyses import families
    from unmask.features.families import parse_spec
    from unmask.io import write_csv
    from unmask.learn.protocol import Protocol

    protocol = Protocol.from_json(args.protocol)
    spec = json.loads(args.spec)
    shards = {"given": args.given}
    if args.harmonised:
        shards["harmonised"] = args.harmonised
    table = families.compare(
        shards,
        [parse_spec(item) for item in spec["families"]],
        spec["band_split"],
        spec["classifiers"],
        spec["size"],
        protocol,
    )
    write_csv(table, args.out)
    families.plot(table, args.figure, args.title)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's sub-commands (named in its docstring) to ``unmask``."""
    command = commands.add_parser("families", description="feature families of one manifest shard (workflow stage)")
    command.add_argument("--manifest", required=True, help="the dataset's manifest (Parquet)")
    command.add_argument("--shard", type=int, required=True, help="this shard's number, from 0")
    command.add_argument("--shards", type=int, required=True, help="number of shards")
    command.add_argument(
        "--spec",
        required=True,
        help='JSON: {"families": [...], "band_split": S, "harmonise": {...} or null, "spectrum_length": N or null}',
    )
    command.add_argument("--max-pixels", type=int, help="reject images with more pixels (read from the header)")
    command.add_argument("--max-pixels-setting", default="--max-pixels", help="the setting to name in that reason")
    command.add_argument("--out", required=True, help="the shard's families (Parquet)")
    command.set_defaults(run=_families)

    command = commands.add_parser("families-table", description="the feature family comparison (workflow stage)")
    command.add_argument("--given", nargs="+", required=True, help="family shards of the images as given")
    command.add_argument("--harmonised", nargs="*", default=[], help="family shards of the harmonised images")
    command.add_argument(
        "--spec",
        required=True,
        help='JSON: {"families": [...], "band_split": S, "classifiers": {...}, "size": N}',
    )
    command.add_argument("--protocol", required=True, help=PROTOCOL_HELP)
    command.add_argument("--title", required=True, help="the dataset's name, in the figure title")
    command.add_argument("--out", required=True, help="one row per images kind, family, band and classifier (CSV)")
    command.add_argument("--figure", required=True, help="accuracy per family (PNG)")
    command.set_defaults(run=_families_table)
