"""``unmask calibrate``: a model's threshold chosen on the user's own real images (conformal calibration)."""

from __future__ import annotations

import argparse
import logging
import sys

from tqdm import tqdm

from unmask.log import one_line

logger = logging.getLogger(__name__)


def _calibrate(args: argparse.Namespace) -> int:
    from unmask.data.images import PixelLimit
    from unmask.learn.model_file import load_model, save_model
    from unmask.learn.predict import calibrate

    model = load_model(args.model)
    calibrated, failed = calibrate(
        model, args.real, args.fpr, PixelLimit(args.max_pixels, "--max-pixels"), faces=args.faces, margin=args.margin
    )
    for error in failed:
        tqdm.write(one_line(f"unmask calibrate: {error} (left out)"), file=sys.stderr)
    save_model(args.out, calibrated)
    conformal = calibrated.conformal
    assert conformal is not None, "calibrate() returns a model with a conformal calibration"
    logger.info(
        f"{args.out}: calibrated on {conformal.n} real images ({len(failed)} left out): an input is labelled fake "
        f"where its p-value is at most {conformal.fpr}"
    )
    return 0


def _fpr(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 1")
    return value


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``unmask calibrate`` to the ``unmask`` sub-commands."""
    from unmask.config import schema_option

    command = commands.add_parser(
        "calibrate",
        help="a threshold from your own real images (conformal)",
        description="Score a folder of your own real images and store their scores in a new model file; "
        "`unmask predict` with it then reports each input's p-value and its label at the chosen false-positive rate.",
    )
    command.add_argument("--model", required=True, help="a model file, e.g. results/demo/models/logreg.json")
    command.add_argument("--real", required=True, nargs="+", help="real images, or folders of them")
    command.add_argument("--fpr", required=True, type=_fpr, help="the false-positive rate to keep, e.g. 0.01")
    command.add_argument("--out", required=True, help="the calibrated model file to write")
    command.add_argument(
        "--faces", action="store_true", help="crop each image's most prominent face first (for a model of face crops)"
    )
    command.add_argument(
        "--margin",
        **schema_option("datasets", "*", "faces", "margin"),
        help="with --faces: margin around a face, a fraction of its side (default %(default)s)",
    )
    command.add_argument(
        "--max-pixels",
        **schema_option("datasets", "*", "max_pixels"),
        help="refuse an image with more pixels, read from its header (default %(default)s)",
    )
    command.set_defaults(run=_calibrate)
