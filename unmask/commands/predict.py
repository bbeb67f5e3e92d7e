"""``unmask predict``: p_fake of images, folders and videos with a stored model."""
from __future__ import annotations

import argparse
import json
import sys


def _predict(args: argparse.Namespace) -> int:
    from unmask.learn.model_file import load_model
    from unmask.learn.predict import UnreadableInput, predict

    model = load_model(args.model)
    failed = 0
    for result in predict(model, args.paths, frames=args.frames, margin=args.margin):
        if isinstance(result, UnreadableInput):
            print(f"unmask predict: {result}", file=sys.stderr)
            failed += 1
        else:
            print(json.dumps(result), flush=True)
    return 1 if failed else 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``unmask predict`` to the ``unmask`` sub-commands."""
    command = commands.add_parser("predict", help="p_fake of images, folders and videos with a stored model")
    command.add_argument("paths", nargs="+", help="images, videos, or folders of them")
    command.add_argument("--model", required=True, help="a model file, e.g. results/faces_hq/models/logreg.json")
    command.add_argument("--frames", type=int, default=20, help="frames sampled per video (default 20)")
    command.add_argument("--margin", type=float, default=0.25, help="margin around a video face (default 0.25)")
    command.set_defaults(run=_predict)
