"""``unmask manifest``: one row per usable image of a dataset (workflow stage)."""

from __future__ import annotations

import argparse
import json
import logging

logger = logging.getLogger(__name__)


def _manifest(args: argparse.Namespace) -> int:
    from unmask.data.file_facts import FactsCache
    from unmask.data.images import PixelLimit
    from unmask.data.manifest import build_manifest, check_classes
    from unmask.io import write_parquet

    spec = json.loads(args.spec)
    cache = FactsCache(args.cache, workers=args.workers)
    manifest, rejects = build_manifest(
        spec["sources"],
        seed=spec.get("seed", 0),
        image_size=spec.get("image_size"),
        split_by=spec.get("split_by", "video"),
        cache=cache,
        pixel_limit=PixelLimit(**spec["pixel_limit"]) if "pixel_limit" in spec else None,
    )
    check_classes(manifest, rejects, spec["sources"])
    write_parquet(manifest, args.out)
    write_parquet(rejects, args.rejects)
    cache.save()
    logger.info(f"manifest: {manifest.num_rows} images, {rejects.num_rows} rejected")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``unmask manifest`` to the ``unmask`` sub-commands."""
    command = commands.add_parser("manifest", description="one row per usable image of a dataset (workflow stage)")
    command.add_argument(
        "--spec",
        required=True,
        help='JSON: {"sources": {...}, "seed": N, "image_size": [W, H], '
        '"pixel_limit": {"pixels": N, "setting": "datasets.<name>.max_pixels"}}',
    )
    command.add_argument("--out", required=True, help="one row per usable image (Parquet)")
    command.add_argument("--rejects", required=True, help="one row per rejected file with its reason (Parquet)")
    command.add_argument("--cache", help="hashes and header facts of files from earlier builds (Parquet, updated)")
    command.add_argument("--workers", type=int, default=4, help="threads that hash and probe files (default 4)")
    command.set_defaults(run=_manifest)
