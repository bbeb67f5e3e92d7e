"""Faces: find the most prominent face in an image or frame and cut a square around it, never resized.

Two detectors: OpenCV's Haar cascade (ships with OpenCV; the largest face, found by the
two-stage search of ``unmask.data.haar``) and YuNet (``cv2.FaceDetectorYN``, an ONNX model
file; the most confident face). Both run on a reduced grayscale or colour copy (YuNet works
best on inputs of about 320-640 px) and only the box is mapped back to the original's
pixels. Crops are squares cut from the original itself, so the spectrum sees the native
frequencies.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from unmask.data.haar import WINDOW, HaarSearch

DETECTORS = ("haar", "yunet")


@dataclass(frozen=True)
class Crop:
    """A square ``(x, y, size)`` in the original's pixels and the pixels inside it."""

    x: int
    y: int
    size: int
    pixels: np.ndarray


class FaceDetector:
    """The most prominent face in a BGR (or grayscale) image, as ``(x, y, w, h)`` in its pixels, or ``None``.

    ``detector`` is ``"haar"`` (the largest face) or ``"yunet"`` (the most confident face;
    ``model`` is its ONNX file). Detection runs on a copy whose longer side is at most
    ``max_side`` pixels (``None``: full size). Faces narrower than ``min_face`` pixels of the
    original are neither searched for nor returned (too small for a spectrum). ``haar_two_stage=False``
    makes Haar search the whole copy at every scale (the same boxes, slower; for comparison). A model file
    OpenCV cannot load is a ``ValueError`` naming ``setting``.
    """

    def __init__(
        self,
        detector: str = "haar",
        model: str | os.PathLike[str] | None = None,
        min_face: int = 64,
        max_side: int | None = 640,
        score_threshold: float = 0.8,
        haar_two_stage: bool = True,
        setting: str = "faces.model",
    ):
        if detector not in DETECTORS:
            raise ValueError(f"unknown face detector {detector!r}; expected one of {', '.join(DETECTORS)}")
        self.name, self.min_face, self.max_side = detector, min_face, max_side
        self._arguments = (detector, model, min_face, max_side, score_threshold, haar_two_stage, setting)
        if detector == "haar":
            self.haar = HaarSearch(haar_two_stage)
        else:
            if model is None or not Path(model).is_file():
                raise FileNotFoundError(f"YuNet model file not found: {model} (set {setting} to its .onnx file)")
            try:
                self._yunet = cv2.FaceDetectorYN.create(str(model), "", (320, 320), score_threshold)
            except cv2.error as error:
                raise ValueError(f"{setting} {model}: OpenCV cannot load it as a YuNet model ({error.err})") from None

    def __reduce__(self) -> tuple[type[FaceDetector], tuple[Any, ...]]:
        """Pickled as its arguments (OpenCV's detectors cannot be): a child process builds its own."""
        return FaceDetector, self._arguments

    def describe(self) -> str:
        """The detector and its smallest face, as rejects quote them."""
        return f"{self.name}, min {self.min_face} px"

    def _scale(self, height: int, width: int) -> float:
        return self.max_side / max(height, width) if self.max_side and max(height, width) > self.max_side else 1.0

    def __call__(self, image: np.ndarray) -> tuple[float, float, float, float] | None:
        height, width = image.shape[:2]
        scale = self._scale(height, width)
        if scale < 1.0:
            reduced = (max(1, round(width * scale)), max(1, round(height * scale)))  # a 20000x8 strip keeps a row
            image = cv2.resize(image, reduced, interpolation=cv2.INTER_AREA)
        if self.name == "yunet":
            faces = self._yunet_faces(image)
        else:
            faces = self._haar_faces(image, max(WINDOW, round(self.min_face * scale)))
        faces = [box for box in faces if box[2] / scale >= self.min_face]
        if not faces:
            return None
        x, y, w, h = (float(v) / scale for v in faces[0])  # each box is (x, y, w, h)
        return x, y, w, h

    def _yunet_faces(self, image: np.ndarray) -> list[np.ndarray]:
        """Boxes, most confident first."""
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        self._yunet.setInputSize((image.shape[1], image.shape[0]))
        _, faces = self._yunet.detect(image)
        if faces is None:
            return []
        return [faces[i, :4] for i in np.argsort(-faces[:, -1], kind="stable")]

    def _haar_faces(self, image: np.ndarray, smallest: int) -> list[np.ndarray]:
        """The largest box (or none)."""
        return self.haar(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image, smallest)


def square_box(
    face: tuple[float, float, float, float], width: int, height: int, margin: float = 0.25
) -> tuple[int, int, int]:
    """Square ``(x, y, size)`` centred on ``face`` with ``margin`` x face size added on each side.

    A square that would leave the frame is shifted inside; one larger than the frame is
    shrunk to the largest square that fits.
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    fx, fy, fw, fh = face
    size = max(1, min(round(max(fw, fh) * (1 + 2 * margin)), width, height))
    x = min(max(round(fx + fw / 2 - size / 2), 0), width - size)
    y = min(max(round(fy + fh / 2 - size / 2), 0), height - size)
    return x, y, size


def for_detection(image: np.ndarray) -> np.ndarray:
    """An 8-bit view of the image for the detector (16-bit images are scaled down)."""
    return image if image.dtype == np.uint8 else cv2.convertScaleAbs(image, alpha=255 / np.iinfo(image.dtype).max)


def crop_face(image: np.ndarray, detector: FaceDetector, margin: float = 0.25) -> Crop | None:
    """The most prominent face's square with ``margin``, cut from ``image`` itself; ``None`` without a face.

    ``image`` may be 16-bit: the detector sees an 8-bit copy, the crop keeps the original's pixels.
    """
    face = detector(for_detection(image))
    if face is None:
        return None
    height, width = image.shape[:2]
    x, y, size = square_box(face, width, height, margin)
    return Crop(x, y, size, image[y : y + size, x : x + size])
