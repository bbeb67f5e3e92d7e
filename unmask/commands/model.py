"""``unmask model``: one calibrated classifier on a whole dataset (workflow stage)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging

from unmask.features import spectrum
from unmask.io import write_csv

logger = logging.getLogger(__name__)


def _model(args: argparse.Namespace) -> int:
    from unmask.learn.final_model import fit_final_model
    from unmask.learn.model_file import save_model
    from unmask.learn.protocol import load_features

    model, calibration = fit_final_model(
        load_features(args.features), json.loads(args.spec), args.dataset, args.variant, args.seed
    )
    model = dataclasses.replace(
        model,
        provenance=dataclasses.replace(model.provenance, face_crops=args.face_crops),
        domain=_domain(args),
    )
    save_model(args.out, model)
    write_csv(calibration, args.calibration)
    logger.info(f"model: {args.out}, Brier score {calibration['brier'].iloc[0]:.4f} on held-out items")
    return 0


def _domain(args: argparse.Namespace) -> dict:
    """The training domain from the manifest: sizes, formats and the JPEGs' estimated qualities."""
    import pyarrow.parquet as pq

    from unmask.learn.domain import jpeg_qualities, training_domain

    images = pq.read_table(args.manifest, columns=["path", "width", "height", "format"]).to_pydict()
    jpegs = [path for path, kind in zip(images["path"], images["format"]) if kind == "JPEG"]
    sizes = list(zip(images["width"], images["height"]))
    variant = spectrum.get_variant(args.variant)
    return training_domain(sizes, images["format"], jpeg_qualities(jpegs), args.face_crops, variant)


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``unmask model`` to the ``unmask`` sub-commands."""
    command = commands.add_parser(
        "model", description="fit, calibrate and store one classifier on a whole dataset (workflow stage)"
    )
    command.add_argument("features", nargs="+", help="feature shards")
    command.add_argument("--spec", required=True, help="classifier configuration as JSON")
    command.add_argument("--dataset", required=True, help="the dataset's name, stored in the model")
    command.add_argument("--variant", required=True, choices=sorted(spectrum.VARIANTS), help="the features' definition")
    command.add_argument("--seed", type=int, required=True, help="seed of the calibration split")
    command.add_argument("--out", required=True, help="model file (JSON)")
    command.add_argument("--face-crops", action="store_true", help="the features are of face crops (recorded)")
    command.add_argument("--manifest", required=True, help="the dataset's manifest: its images' sizes and formats")
    command.add_argument("--calibration", required=True, help="reliability curve and Brier score (CSV)")
    command.set_defaults(run=_model)
