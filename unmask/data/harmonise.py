"""Harmonising: every image of a dataset brought to one size and one last encoding before its features.

A centre crop of ``crop`` x ``crop`` pixels starts at an offset that is a
multiple of 16 (the JPEG block grid at any chroma subsampling), so an unchanged
JPEG keeps its compression: its pixels are those it was encoded with. Nothing
is resampled unless ``resample`` names an OpenCV interpolation (then every image
whose shorter side is not ``crop`` is scaled to it first, gray and colour
alike); otherwise a smaller image is rejected with its reason. With a
``jpeg_quality`` the cropped colour image is then re-encoded as JPEG at that
quality with 4:2:0 chroma (OpenCV's libjpeg), the same for both classes, and
decoded again. Every image goes through the checked decode of ``images``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from unmask.data.images import PixelLimit, RejectedImage, decode_colour, decode_gray

BLOCK = 16  # crop offsets are multiples of this: the largest JPEG block (MCU) side


RESAMPLING = {
    "area": cv2.INTER_AREA,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}


@dataclass(frozen=True)
class Harmonise:
    """What is done to every image: a centre crop (None: none), resampling first where the user names a method
    (None: never), and a last JPEG encoding (None: none)."""

    crop: int | None = None
    jpeg_quality: int | None = None
    resample: str | None = None

    @classmethod
    def of(cls, settings: dict[str, Any] | None) -> Harmonise | None:
        """From the dataset's ``harmonise`` setting (None or {} : nothing is done)."""
        settings = settings or {}
        harmonise = cls(settings.get("crop"), settings.get("jpeg_quality"), settings.get("resample"))
        return None if harmonise == cls() else harmonise


def crop_offset(side: int, crop: int) -> int:
    """The block-aligned offset of a centre crop of ``crop`` pixels from a side of ``side``."""
    return (side - crop) // 2 // BLOCK * BLOCK


def _crop(image: np.ndarray, crop: int) -> tuple[np.ndarray, str]:
    height, width = image.shape[:2]
    if min(height, width) < crop:
        raise RejectedImage(
            f"image of {width}x{height} pixels is smaller than the harmonise crop of {crop} (never resampled "
            "unless harmonise.resample names a method)"
        )
    y, x = crop_offset(height, crop), crop_offset(width, crop)
    return image[y : y + crop, x : x + crop], f"crop {crop} at x {x}, y {y}"


def _scale(image: np.ndarray, side: int, method: str) -> tuple[np.ndarray, str]:
    """``image`` resampled so that its shorter side is ``side``."""
    height, width = image.shape[:2]
    size = (round(width * side / min(height, width)), round(height * side / min(height, width)))
    scaled = cv2.resize(image, size, interpolation=RESAMPLING[method])
    return scaled, f"resampled {width}x{height} to {size[0]}x{size[1]} ({method})"


def decode(
    data: bytes, harmonise: Harmonise | None, colour: bool, limit: PixelLimit | None = None
) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Gray and (with ``colour``) BGR pixels of encoded image bytes, harmonised, and what was done to them."""
    if harmonise is None:
        if colour:
            return *decode_colour(data, limit), "as given"
        return decode_gray(data, limit), None, "as given"
    if colour or harmonise.jpeg_quality is not None:
        planes = list(decode_colour(data, limit))
    else:
        planes = [decode_gray(data, limit)]
    done = []
    if harmonise.crop is not None:
        if harmonise.resample is not None and min(planes[0].shape) != harmonise.crop:
            planes, notes = zip(*(_scale(plane, harmonise.crop, harmonise.resample) for plane in planes))
            done.append(notes[0])
        planes, notes = zip(*(_crop(plane, harmonise.crop) for plane in planes))
        done.append(notes[0])
    if harmonise.jpeg_quality is not None:
        planes = _round_trip(planes[1], harmonise.jpeg_quality)
        done.append(f"JPEG q{harmonise.jpeg_quality} 4:2:0")
    return planes[0], planes[1] if colour else None, "; ".join(done) or "as given"


def _round_trip(bgr: np.ndarray, quality: int) -> list[np.ndarray]:
    """Gray and BGR pixels of ``bgr`` after one JPEG encoding: a round trip of our own encoder in memory, so not
    through the checks for a user's files (header walk, strict decode)."""
    encoded = np.frombuffer(reencode(bgr, quality), np.uint8)
    planes: list[np.ndarray] = []
    for flag in (cv2.IMREAD_GRAYSCALE, cv2.IMREAD_COLOR):
        plane = cv2.imdecode(encoded, flag)
        if plane is None:
            raise RejectedImage("OpenCV cannot decode its own JPEG re-encoding")
        planes.append(plane)
    return planes


def reencode(bgr: np.ndarray, quality: int) -> bytes:
    """A BGR image encoded as a baseline JPEG at ``quality`` with 4:2:0 chroma."""
    flags = [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420]
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(bgr), flags)
    if not ok:
        raise RejectedImage(f"cannot re-encode a {bgr.shape[1]}x{bgr.shape[0]} image as JPEG")
    return data.tobytes()
