"""``unmask predict``: p_fake for images, folders and videos with a stored model; nothing is resized.

An image's spectrum is computed at its native size and, where its length
differs from the model's, resampled to it (the paper's advice instead of
resizing images). A video is sampled and face-cropped as in the workflow;
its p_fake is the mean of its frames'. With ``faces`` (``unmask predict --faces``), an image is
face-cropped as the workflow crops image sources (the crop goes through the same lossless PNG
encoding) and its crop box is reported. Every label follows its p_fake by the model's rule
(``Model.is_fake``: fake where p_fake >= the stored threshold), so a label never contradicts the
p_fake printed beside it; with a conformal calibration (``unmask calibrate``) the label is the
one at the calibration's false-positive rate, and the p-value, the rate and n are reported beside it.

Every input is compared with the model's training domain (``unmask.learn.domain``): the result
says ``in_domain`` and, outside it, ``why``; far outside it is refused unless ``allow_out_of_domain``.
A score that is not finite (a model whose arithmetic overflows on this input) is refused too.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from unmask import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from unmask.data.audit import format_facts
from unmask.data.faces import FaceDetector, crop_face
from unmask.data.images import DECODER_ERRORS, PixelLimit, check_file, decode_gray, decode_native, read_gray
from unmask.data.isolated import ChildCrashed, Isolated
from unmask.data.video import process_video
from unmask.features.extract import image_features
from unmask.features.spectrum import get_variant
from unmask.io import scan_files
from unmask.learn.conformal import Conformal
from unmask.learn.domain import Facts, compare
from unmask.learn.model_file import Model
from unmask.log import progress

logger = logging.getLogger(__name__)

LABEL_NAMES = ("real", "fake")


class UnreadableInput(ValueError):
    """An input that yields no prediction; the message names the file and the problem."""

    def __init__(self, message: str, path: str | Path | None = None):
        super().__init__(message)
        self.path = None if path is None else str(path)

    @property
    def reason(self) -> str:
        """The message without the leading path."""
        text = str(self)
        return text[len(self.path) + 2 :] if self.path and text.startswith(f"{self.path}: ") else text


def verdict(model: Model, decisions: np.ndarray) -> list[dict[str, Any]]:
    """p_fake and label of each decision value; with a conformal calibration its p-value, the label at the
    calibration's false-positive rate, the rate and n. ``UnreadableInput`` where a score is not finite."""
    p_fake = model.calibration(decisions)
    if not (np.isfinite(decisions).all() and np.isfinite(p_fake).all()):
        raise UnreadableInput("the model's score is not finite (its parameters overflow on this input)")
    results = [{"p_fake": float(p), "label": LABEL_NAMES[int(model.is_fake(p))]} for p in p_fake]
    if model.conformal is not None:
        p_values = model.conformal.p_values(decisions)
        for result, p_value, fake in zip(results, p_values, model.conformal.is_fake(p_values)):
            result.update(p_value=float(p_value), label=LABEL_NAMES[int(fake)], fpr=model.conformal.fpr)
            result["n_calibration"] = model.conformal.n
    return results


class OutOfDomain(UnreadableInput):
    """An input far outside the model's training domain."""


def domain_check(model: Model, facts: list[Facts], allow: bool) -> dict[str, Any]:
    """``in_domain`` and ``why`` of an input whose features come from images of ``facts`` (a video's crops: each
    reason once, with the share of frames it concerns); empty when the model records no domain. ``OutOfDomain``
    when far outside and not ``allow``ed."""
    if model.domain is None:
        return {}
    variant = get_variant(model.variant)
    first: dict[str, str] = {}
    counts: Counter[str] = Counter()
    far = False
    for fact in facts:
        reasons, beyond = compare(model.domain, fact, variant, model.feature_length)
        for aspect, reason in reasons.items():
            first.setdefault(aspect, reason)
            counts[aspect] += 1
        far |= beyond
    why = "; ".join(
        reason if len(facts) == 1 else f"{reason} ({counts[aspect]} of {len(facts)} frames)"
        for aspect, reason in first.items()
    )
    if far and not allow:
        raise OutOfDomain(f"far outside the model's domain ({why}); pass --allow-out-of-domain to score it anyway")
    return {"in_domain": not why} | ({"why": why} if why else {})


def file_facts(path: Path, image: np.ndarray, crop: bool) -> Facts:
    """The facts of an image whose features come from the decoded ``image`` (its face crop with ``crop``)."""
    height, width = image.shape[:2]
    if crop or not path.is_file():  # a crop is PNG-encoded, as the workflow's; a pipe can be read once only
        return Facts(width, height, "PNG" if crop else None, None, crop)
    try:
        facts = format_facts(path)
    except (*DECODER_ERRORS, KeyError, IndexError, TypeError):  # a header Pillow reads oddly: format unknown
        return Facts(width, height, None, None, False)
    return Facts(width, height, facts.format, facts.quality, False)


def expand(paths: list[str | Path]) -> list[Path | UnreadableInput]:
    """Files given, with folders replaced by the images and videos under them (sorted), after the entries
    their listing skipped (link loops, broken links: see ``scan_files``) and a folder that holds none."""
    suffixes = IMAGE_SUFFIXES + VIDEO_SUFFIXES
    files: list[Path | UnreadableInput] = []
    for given in paths:
        if given == "":  # Path("") is the working folder
            files.append(UnreadableInput("'': an empty path", ""))
            continue
        path = Path(given)
        if not path.is_dir():
            files.append(path)
            continue
        listing = scan_files(path, suffixes)
        files += [UnreadableInput(f"{entry}: {reason}", entry) for entry, reason in listing.skipped]
        files += listing.files
        if not listing.files:
            files.append(UnreadableInput(f"{path}: no image or video files ({', '.join(suffixes)}) in it", path))
    return files


def model_features(model: Model, image: np.ndarray) -> np.ndarray:
    """The model's features of a grayscale image, resampled to the model's length where needed (an image too
    small for them is refused with the workflow's reason)."""
    return image_features(image, get_variant(model.variant, model.feature_length))


def crop_features(
    model: Model, path: Path, data: bytes, detector: FaceDetector, margin: float, limit: PixelLimit | None = None
) -> tuple[np.ndarray, dict[str, Any], np.ndarray]:
    """The model's features of the face crop of an image (``data``, the bytes of ``path``), its box and its
    pixels; the crop goes through PNG, as in the workflow."""
    crop = crop_face(decode_native(data, limit), detector, margin)
    if crop is None:
        raise UnreadableInput(f"{path}: no face found ({detector.describe()})")
    ok, png = cv2.imencode(".png", crop.pixels)
    if not ok:
        raise UnreadableInput(f"{path}: cannot encode its face crop as PNG")
    box = {"x": crop.x, "y": crop.y, "size": crop.size, "detector": detector.name}
    pixels = decode_gray(png.tobytes())
    return model_features(model, pixels), box, pixels


def image_decision(
    model: Model,
    path: Path,
    limit: PixelLimit | None = None,
    detector: FaceDetector | None = None,
    margin: float = 0.25,
    data: bytes | None = None,
    allow_out_of_domain: bool = False,
) -> tuple[np.ndarray, dict[str, Any] | None, dict[str, Any]]:
    """The model's decision value of an image (of its face crop when a ``detector`` is given, then with its box),
    and where the image lies against the model's domain.

    ``data`` is the file's bytes when the caller read them (a pipe can be read once only)."""
    if data is None:
        check_file(path, limit)
        data = path.read_bytes()
    if detector is None:
        pixels = decode_gray(data, limit)
        x, box = model_features(model, pixels), None
    else:
        x, box, pixels = crop_features(model, path, data, detector, margin, limit)
    domain = domain_check(model, [file_facts(path, pixels, detector is not None)], allow_out_of_domain)
    return model.decision(x), box, domain


def predict_image(
    model: Model,
    path: Path,
    limit: PixelLimit | None = None,
    detector: FaceDetector | None = None,
    margin: float = 0.25,
    data: bytes | None = None,
    allow_out_of_domain: bool = False,
) -> dict[str, Any]:
    """p_fake and label of an image, of its face crop when a ``detector`` is given (then with ``crop``: the box),
    and where it lies against the model's domain."""
    decision, box, domain = image_decision(model, path, limit, detector, margin, data, allow_out_of_domain)
    result = {"path": str(path), **verdict(model, decision)[0], **domain}
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
    model: Model,
    path: Path,
    frames: int,
    margin: float,
    detector: FaceDetector,
    limit: PixelLimit | None = None,
    allow_out_of_domain: bool = False,
) -> dict[str, Any]:
    """The mean p_fake of a video's face crops, each frame's verdict, and where its crops lie against the domain."""
    with tempfile.TemporaryDirectory(prefix="unmask-crops-") as crops:
        records = process_video(path, crops, n=frames, margin=margin, detector=detector, limit=limit)
        cropped = [r for r in records if r.crop_path]
        if not cropped:
            reasons = sorted({r.reason for r in records if r.reason is not None})  # each record without a crop has one
            raise UnreadableInput(f"{path}: no face crop in {frames} sampled frames ({'; '.join(reasons)})")
        pixels = [read_gray(r.crop_path) for r in cropped if r.crop_path]
    facts = [Facts(crop.shape[1], crop.shape[0], "PNG", None, True) for crop in pixels]
    domain = domain_check(model, facts, allow_out_of_domain)
    per_frame = verdict(model, model.decision(np.stack([model_features(model, crop) for crop in pixels])))
    p_fake = float(np.mean([frame["p_fake"] for frame in per_frame]))
    return {
        "path": str(path),
        "p_fake": p_fake,
        "label": LABEL_NAMES[int(model.is_fake(p_fake))],
        **domain,
        "frames": [
            {"frame": r.frame_index, "timestamp_ms": r.timestamp_ms, **frame} for r, frame in zip(cropped, per_frame)
        ],
    }


class Predictor:
    """``predict``'s and ``calibrate``'s worker, built in its child process (``Isolated``): one file per call."""

    def __init__(
        self,
        model: Model,
        frames: int,
        margin: float,
        limit: PixelLimit | None,
        detector: FaceDetector | None,
        faces: bool,
        allow_out_of_domain: bool = False,
    ):
        self.model, self.frames, self.margin, self.limit = model, frames, margin, limit
        self.detector, self.faces, self.allow = detector, faces, allow_out_of_domain

    def _detector(self) -> FaceDetector:
        self.detector = self.detector or FaceDetector()
        return self.detector

    def __call__(self, path: Path, data: bytes | None = None) -> dict[str, Any]:
        """The result of an image or a video."""
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return predict_video(self.model, path, self.frames, self.margin, self._detector(), self.limit, self.allow)
        detector = self._detector() if self.faces else None
        return predict_image(self.model, path, self.limit, detector, self.margin, data, self.allow)

    def decision(self, path: Path, data: bytes | None = None) -> float:
        """The decision value of a real image for a calibration (far outside the domain: ``OutOfDomain``)."""
        if path.suffix.lower() in VIDEO_SUFFIXES:
            raise UnreadableInput(f"{path}: a video; calibration takes real images")
        detector = self._detector() if self.faces else None
        decision, _, _ = image_decision(self.model, path, self.limit, detector, self.margin, data)
        return float(decision[0])


def _each_file(paths: list[str | Path], worker: Predictor, method: str, desc: str) -> Iterator[tuple[Path | None, Any]]:
    """``(path, result)`` of each input file, a worker method run in a child process (``Isolated``); the result
    is an ``UnreadableInput`` naming the file where it failed (a decoder's error or crash included)."""
    files = expand(paths)
    with Isolated(getattr, worker, method) as child:
        for path in progress(files, len(files), "file", desc, terminal_only=True):
            if isinstance(path, UnreadableInput):
                yield None, path
                continue
            try:
                yield path, child(path, path.read_bytes() if path.is_fifo() else None)  # the child cannot open a pipe
            except UnreadableInput as error:
                yield path, error if error.path else type(error)(_named(path, str(error)), path)
            except (ChildCrashed, *DECODER_ERRORS) as error:  # OSError included: a pipe that cannot be read
                yield path, UnreadableInput(f"{path}: {error}", path)


def predict(
    model: Model,
    paths: list[str | Path],
    frames: int = 20,
    margin: float = 0.25,
    limit: PixelLimit | None = None,
    detector: FaceDetector | None = None,
    faces: bool = False,
    allow_out_of_domain: bool = False,
) -> Iterator[dict[str, Any] | UnreadableInput]:
    """One result per input file: a dict (path, p_fake, label[, frames][, crop]) or the UnreadableInput it raised.

    Videos are always face-cropped; images only with ``faces`` (``detector`` defaults to the Haar cascade).
    Files are decoded in a child process (``Isolated``): whatever a decoder raises for one file (OpenCV,
    Pillow, libjpeg), or a decoder crash, becomes that file's UnreadableInput; an image or video frame with
    more pixels than ``limit`` is refused from its header, before it is decoded.
    At the first image, a warning says when the model was trained on crops and images are scored whole
    (or the other way round).
    """
    if model.domain is None:
        logger.warning(
            f"{model.source} records no training domain (written before unmask recorded it): inputs are "
            "not compared with the images it was trained on"
        )
    worker, warned = Predictor(model, frames, margin, limit, detector, faces, allow_out_of_domain), False
    for path, result in _each_file(paths, worker, "__call__", "predict"):
        if path is not None and path.suffix.lower() not in VIDEO_SUFFIXES and not warned:
            if warning := crop_mismatch(model, faces):
                logger.warning(warning)
            warned = True
        yield result


def _named(path: Path, message: str) -> str:
    """``message`` led by the path, unless it already is."""
    return message if message.startswith(f"{path}: ") else f"{path}: {message}"


def calibrate(
    model: Model,
    paths: list[str | Path],
    fpr: float,
    limit: PixelLimit | None = None,
    faces: bool = False,
    margin: float = 0.25,
) -> tuple[Model, list[UnreadableInput]]:
    """``model`` with a conformal calibration on the real images under ``paths`` (``unmask calibrate``), and the
    inputs that could not be scored. Images far outside the model's domain are left out like unreadable ones."""
    worker = Predictor(model, 0, margin, limit, None, faces)
    decisions: list[float] = []
    failed: list[UnreadableInput] = []
    for _, result in _each_file(paths, worker, "decision", "calibrate"):
        (failed if isinstance(result, UnreadableInput) else decisions).append(result)
    return dataclasses.replace(model, conformal=Conformal.fit(decisions, fpr)), failed
