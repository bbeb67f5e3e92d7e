"""``unmask predict``: p_fake for images, folders and videos with a stored model; nothing is resized.

An image's spectrum is computed at its native size and, where its length
differs from the model's, resampled to it (the paper's advice instead of
resizing images). A video is sampled and face-cropped as in the workflow;
its p_fake is the mean of its frames'. Every label follows its p_fake by the
model's rule (``Model.is_fake``: fake where p_fake >= the stored threshold), so
a label never contradicts the p_fake printed beside it.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from unmask import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from unmask.data.images import read_gray
from unmask.io import list_files
from unmask.learn.model_file import Model
from unmask.features.spectrum import features, get_variant
from unmask.data.video import FaceDetector, process_video

LABEL_NAMES = ("real", "fake")


class UnreadableInput(ValueError):
    """An input that yields no prediction; the message names the file and the problem."""


def expand(paths: list[str | Path]) -> list[Path]:
    """Files given, with folders replaced by the images and videos under them (sorted)."""
    files = []
    for path in map(Path, paths):
        files += list_files(path, IMAGE_SUFFIXES + VIDEO_SUFFIXES) if path.is_dir() else [path]
    return files


def model_features(model: Model, image: np.ndarray) -> np.ndarray:
    """The model's features of a grayscale image, resampled to the model's length where needed."""
    return features(image, get_variant(model.variant, model.feature_length))


def predict_image(model: Model, path: Path) -> dict:
    x = model_features(model, read_gray(path))
    p_fake = float(model.p_fake(x)[0])
    return {"path": str(path), "p_fake": p_fake, "label": LABEL_NAMES[int(model.is_fake(p_fake))]}


def predict_video(model: Model, path: Path, frames: int, margin: float, detector: FaceDetector) -> dict:
    with tempfile.TemporaryDirectory(prefix="unmask-crops-") as crops:
        records = process_video(path, crops, n=frames, margin=margin, detector=detector)
        cropped = [r for r in records if r.crop_path]
        if not cropped:
            reasons = sorted({r.reason for r in records})
            raise UnreadableInput(f"{path}: no face crop in {frames} sampled frames ({'; '.join(reasons)})")
        X = np.stack([model_features(model, read_gray(r.crop_path)) for r in cropped])
    p_fake = model.p_fake(X)
    return {
        "path": str(path),
        "p_fake": float(p_fake.mean()),
        "label": LABEL_NAMES[int(model.is_fake(p_fake.mean()))],
        "frames": [
            {"frame": r.frame_index, "timestamp_ms": r.timestamp_ms, "p_fake": float(p), "label": LABEL_NAMES[int(model.is_fake(p))]}
            for r, p in zip(cropped, p_fake)
        ],
    }


def predict(model: Model, paths: list[str | Path], frames: int = 20, margin: float = 0.25) -> Iterator[dict | UnreadableInput]:
    """One result per input file: a dict (path, p_fake, label[, frames]) or the UnreadableInput it raised."""
    detector = None
    for path in expand(paths):
        try:
            if path.suffix.lower() in VIDEO_SUFFIXES:
                detector = detector or FaceDetector()
                yield predict_video(model, path, frames, margin, detector)
            else:
                yield predict_image(model, path)
        except UnreadableInput as error:
            yield error
        except (OSError, ValueError) as error:
            yield UnreadableInput(f"{path}: {error}")
