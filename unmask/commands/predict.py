"""``unmask predict``: p_fake of images, folders and videos with a stored model."""

from __future__ import annotations

import argparse
import json
import sys

from unmask.log import one_line


def _predict(args: argparse.Namespace) -> int:
    from unmask.data.faces import FaceDetector
    from unmask.data.images import PixelLimit
    from unmask.learn.model_file import load_model
    from unmask.learn.predict import UnreadableInput, predict

    model = load_model(args.model)
    if args.detector == "yunet" and args.detector_model is None:
        raise ValueError("--detector yunet needs --detector-model, the YuNet .onnx file")
    detector = FaceDetector(args.detector, args.detector_model, args.min_face, setting="--detector-model")
    failed = 0
    limit = PixelLimit(args.max_pixels, "--max-pixels")
    results = predict(
        model, args.paths, frames=args.frames, margin=args.margin, limit=limit, detector=detector, faces=args.faces
    )
    for result in results:
        if isinstance(result, UnreadableInput):
            print(one_line(f"unmask predict: {result}"), file=sys.stderr)
            failed += 1
        else:
            print(json.dumps(result), flush=True)
    return 1 if failed else 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``unmask predict`` to the ``unmask`` sub-commands."""
    from unmask.config import schema_default, schema_option

    command = commands.add_parser(
        "predict",
        help="p_fake of images, videos and folders with a model",
        description="p_fake of images, folders and videos with a stored model, one JSON line each",
    )
    command.add_argument("paths", nargs="+", help="images, videos, or folders of them")
    command.add_argument("--model", required=True, help="a model file, e.g. results/faces_hq/models/logreg.json")
    command.add_argument(
        "--frames",
        **schema_option("datasets", "*", "video", "frames"),
        help="frames sampled per video (default %(default)s)",
    )
    command.add_argument(
        "--margin",
        **schema_option("datasets", "*", "faces", "margin"),
        help="margin around a face, a fraction of its side (default %(default)s)",
    )
    command.add_argument(
        "--max-pixels",
        **schema_option("datasets", "*", "max_pixels"),
        help="refuse an image with more pixels, read from its header (default %(default)s)",
    )
    command.add_argument(
        "--faces",
        action="store_true",
        help="crop each image's most prominent face (a square, never resized) first; prints the box",
    )
    command.add_argument(
        "--detector",
        choices=["haar", "yunet"],
        default=schema_default("datasets", "*", "faces", "detector"),
        help="face detector (default %(default)s)",
    )
    command.add_argument("--detector-model", help="the YuNet model file (.onnx), for --detector yunet")
    command.add_argument(
        "--min-face",
        **schema_option("datasets", "*", "faces", "min_face"),
        help="smallest face side in pixels (default %(default)s)",
    )
    command.set_defaults(run=_predict)
