"""``unmask manifest``: one row per usable image of a dataset (workflow stage)."""
from __future__ import annotations

import argparse
import json
import sys


def _manifest(args: argparse.Namespace) -> int:
    from unmask.io import write_parquet
    from unmask.data.images import PixelLimit
    from unmask.data.manifest import build_manifest

    spec = json.loads(args.spec)
    limit = PixelLimit(**spec["pixel_limit"]) if "pixel_limit" in spec else None
    manifest, rejects = build_manifest(
        spec["sources"], seed=spec.get("seed", 0), image_size=spec.get("image_size"),
        split_by=spec.get("split_by", "video"), pixel_limit=limit,
    )
    write_parquet(manifest, args.out)
    write_parquet(rejects, args.rejects)
    print(f"manifest: {manifest.num_rows} images, {rejects.num_rows} rejected", file=sys.stderr)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``unmask manifest`` to the ``unmask`` sub-commands."""
    command = commands.add_parser("manifest", description="one row per usable image of a dataset (workflow stage)")
    command.add_argument("--spec", required=True, help='JSON: {"sources": {...}, "seed": N, "image_size": [W, H], '
                         '"pixel_limit": {"pixels": N, "setting": "datasets.<name>.max_pixels"}}')
    command.add_argument("--out", required=True, help="one row per usable image (Parquet)")
    command.add_argument("--rejects", required=True, help="one row per rejected file with its reason (Parquet)")
    command.set_defaults(run=_manifest)
