"""``unmask robustness``: one repeat of accuracy under perturbed images (a workflow stage)."""

from __future__ import annotations

import argparse
import json

from unmask.commands import PROTOCOL_HELP
from unmask.features import spectrum


def _robustness(args: argparse.Namespace) -> int:
    import pyarrow as pa

    from unmask.analyses import robustness
    from unmask.features.perturb import parse_perturbations
    from unmask.io import write_parquet
    from unmask.learn.protocol import Protocol, load_features

    protocol = Protocol.from_json(args.protocol)
    data = load_features(args.features)
    paths, pixels = robustness.image_paths_and_pixels(args.manifest, data.ids)
    runs = robustness.robustness_repeat(
        data,
        paths,
        json.loads(args.classifiers),
        parse_perturbations(args.perturbations),
        spectrum.get_variant(args.variant, args.length),
        robustness.sample_size(data.y, args.size, args.megapixels, pixels),
        args.repeat,
        protocol,
        reencode=args.reencode,
    )
    write_parquet(pa.Table.from_pandas(runs, preserve_index=False), args.out)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add this module's sub-commands (named in its docstring) to ``unmask``."""
    from unmask.config import schema_default

    command = commands.add_parser(
        "robustness", description="one repeat of accuracy under perturbed images (workflow stage)"
    )
    command.add_argument("features", nargs="+", help="feature shards (the clean features)")
    command.add_argument("--manifest", required=True, help="the manifest: where each image is")
    command.add_argument("--variant", required=True, choices=sorted(spectrum.VARIANTS), help="feature definition")
    command.add_argument("--length", type=int, help="resample spectra to this many points")
    command.add_argument("--reencode", type=int, help="the JPEG quality the features stage re-encoded images at")
    command.add_argument("--classifiers", required=True, help="JSON: {name: classifier spec}")
    command.add_argument("--perturbations", nargs="+", required=True, help="e.g. jpeg:70 scale:0.5 blur:1.0 noise:5")
    command.add_argument("--size", required=True, help='samples per repeat, or "all"; capped by the usable images')
    command.add_argument(
        "--megapixels",
        type=float,
        default=schema_default("datasets", "*", "robustness", "megapixels"),
        help="decoded megapixels per repeat: the sample shrinks to fit (default %(default)s)",
    )
    command.add_argument("--repeat", type=int, required=True, help="the repeat's number, from 0")
    command.add_argument("--protocol", required=True, help=PROTOCOL_HELP)
    command.add_argument("--out", required=True, help="per-repeat results (Parquet)")
    command.set_defaults(run=_robustness)
