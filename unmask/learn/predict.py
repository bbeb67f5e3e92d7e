"""``unmask predict``: p_fake for images, folders and videos with a stored model; nothing is resized.

An image's spectrum is computed at its native size and, where its length
differs from the model's, resampled to it (the paper's advice instead of
resizing images). A video is sampled and face-cropped as in the workflow;
its p_fake is the mean of its frames'. With ``faces`` (``unmask predict --faces``), an image is
face-cropped as the workflow crops image sources (the crop goes through the same lossless PNG
encoding) and its crop box is reported. Every label follows its p_fake by the model's rule
(``Model.is_fake``: fake where p_fake >= the stored threshold), so a label never contradicts the
p_fake printed beside it.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from unmask import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from unmask.data.faces import FaceDetector, crop_face
from unmask.data.images import DECODER_ERRORS, PixelLimit, check_file, decode_gray, decode_native, read_gray
from unmask.data.isolated import ChildCrashed, Isolated
from unmask.data.video import process_video
from unmask.features.extract import image_features
from unmask.features.spectrum import get_variant
from unmask.io import scan_files
from unmask.learn.model_file import Model
from unmask.log import progress

logger = logging.getLogger(__name__)

LABEL_NAMES = ("real", "fake")


class UnreadableInput(ValueError):
    """An input that yields no prediction; the message names the file and the problem."""


def expand(paths: list[str | Path]) -> list[Path | UnreadableInput]:
    """Files given, with folders replaced by the images and videos under them (sorted), after the entries
    their listing skipped (link loops, broken links: see ``scan_files``) and a folder that holds none."""
    suffixes = IMAGE_SUFFIXES + VIDEO_SUFFIXES
    files: list[Path | UnreadableInput] = []
    for given in paths:
        if given == "":  # Path("") is the working folder
            files.append(UnreadableInput("'': an empty path"))
            continue
        path = Path(given)
        if not path.is_dir():
            files.append(path)
            continue
        listing = scan_files(path, suffixes)
        files += [UnreadableInput(f"{entry}: {reason}") for entry, reason in listing.skipped]
        files += listing.files
        if not listing.files:
            files.append(UnreadableInput(f"{path}: no image or video files ({', '.join(suffixes)}) in it"))
    return files


def model_features(model: Model, image: np.ndarray) -> np.ndarray:
    """The model's features of a grayscale image, resampled to the model's length where needed (an image too
    small for them is refused with the workflow's reason)."""
    return image_features(image, get_variant(model.variant, model.feature_length))


def crop_features(
    model: Model, path: Path, data: bytes, detector: FaceDetector, margin: float, limit: PixelLimit | None = None
) -> tuple[np.ndarray, dict]:
    """The model's features of the face crop of an image (``data``, the bytes of ``path``), and its box; the crop
    goes through PNG, as in the workflow."""
    pixels = decode_native(data, limit)
    crop = crop_face(pixels, detector, margin)
    if crop is None:
        raise UnreadableInput(f"{path}: no face found ({detector.describe()})")
    ok, png = cv2.imencode(".png", crop.pixels)
    if not ok:
        raise UnreadableInput(f"{path}: cannot encode its face crop as PNG")
    box = {"x": crop.x, "y": crop.y, "size": crop.size, "detector": detector.name}
    return model_features(model, decode_gray(png.tobytes())), box


def predict_image(
    model: Model,
    path: Path,
    limit: PixelLimit | None = None,
    detector: FaceDetector | None = None,
    margin: float = 0.25,
    data: bytes | None = None,
) -> dict:
    """p_fake and label of an image, of its face crop when a ``detector`` is given (then with ``crop``: the box).

    ``data`` is the file's bytes when the caller read them (a pipe can be read once only)."""
    if data is None:
        check_file(path, limit)
        data = path.read_bytes()
    if detector is None:
        x, box = model_features(model, decode_gray(data, limit)), None
    else:
        x, box = crop_features(model, path, data, detector, margin, limit)
    p_fake = float(model.p_fake(x)[0])
    result = {"path": str(path), "p_fake": p_fake, "label": LABEL_NAMES[int(model.is_fake(p_fake))]}
    return result if box is None else result | {"crop": box}


def crop_mismatch(model: Model, faces: bool) -> str | None:
    """A warning when images are (not) face-cropped but the model was trained otherwise."""
    trained = model.provenance.face_crops
    if trained is True and not faces:
        return (
            f"{model.source} was trained on face crops, but images are scored whole; "
            "pass --faces to crop them the same way"
        )
    if trained is False and faces:
        return f"{model.source} was trained on whole images, but images are face-cropped (--faces)"
    return None


def predict_video(
    model: Model, path: Path, frames: int, margin: float, detector: FaceDetector, limit: PixelLimit | None = None
) -> dict:
    with tempfile.TemporaryDirectory(prefix="unmask-crops-") as crops:
        records = process_video(path, crops, n=frames, margin=margin, detector=detector, limit=limit)
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
            {
                "frame": r.frame_index,
                "timestamp_ms": r.timestamp_ms,
                "p_fake": float(p),
                "label": LABEL_NAMES[int(model.is_fake(p))],
            }
            for r, p in zip(cropped, p_fake)
        ],
    }


class Predictor:
    """``predict``'s worker, built in its child process (``Isolated``): one image or video per call."""

    def __init__(
        self,
        model: Model,
        frames: int,
        margin: float,
        limit: PixelLimit | None,
        detector: FaceDetector | None,
        faces: bool,
    ):
        self.model, self.frames, self.margin, self.limit = model, frames, margin, limit
        self.detector, self.faces = detector, faces

    def __call__(self, path: Path, data: bytes | None = None) -> dict:
        if path.suffix.lower() in VIDEO_SUFFIXES:
            self.detector = self.detector or FaceDetector()
            return predict_video(self.model, path, self.frames, self.margin, self.detector, self.limit)
        if self.faces:
            self.detector = self.detector or FaceDetector()
        detector = self.detector if self.faces else None
        return predict_image(self.model, path, self.limit, detector, self.margin, data)


def predict(
    model: Model,
    paths: list[str | Path],
    frames: int = 20,
    margin: float = 0.25,
    limit: PixelLimit | None = None,
    detector: FaceDetector | None = None,
    faces: bool = False,
) -> Iterator[dict | UnreadableInput]:
    """One result per input file: a dict (path, p_fake, label[, frames][, crop]) or the UnreadableInput it raised.

    Videos are always face-cropped; images only with ``faces`` (``detector`` defaults to the Haar cascade).
    Files are decoded in a child process (``Isolated``): whatever a decoder raises for one file (OpenCV,
    Pillow, libjpeg), or a decoder crash, becomes that file's UnreadableInput; an image or video frame with
    more pixels than ``limit`` is refused from its header, before it is decoded.
    At the first image, a warning says when the model was trained on crops and images are scored whole
    (or the other way round).
    """
    files, warned = expand(paths), False
    with Isolated(Predictor, model, frames, margin, limit, detector, faces) as child:
        for path in progress(files, len(files), "file", "predict", terminal_only=True):
            if isinstance(path, UnreadableInput):
                yield path
                continue
            if path.suffix.lower() not in VIDEO_SUFFIXES and not warned:
                if warning := crop_mismatch(model, faces):
                    logger.warning(warning)
                warned = True
            try:
                yield child(path, path.read_bytes() if path.is_fifo() else None)  # the child cannot open our pipe
            except UnreadableInput as error:
                yield error
            except (ChildCrashed, *DECODER_ERRORS) as error:  # OSError included: a pipe that cannot be read
                yield UnreadableInput(f"{path}: {error}")
