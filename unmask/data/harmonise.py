"""Harmonising: every image of a dataset brought to one size and one last encoding before its features.

A centre crop of ``crop`` x ``crop`` pixels starts at an offset that is a
multiple of 16 (the JPEG block grid at any chroma subsampling), so an unchanged
JPEG keeps its compression: its pixels are those it was encoded with. Nothing
is resampled: a smaller image is rejected with its reason. With a
``jpeg_quality`` the cropped colour image is then re-encoded as JPEG at that
quality with 4:2:0 chroma (OpenCV's libjpeg), the same for both classes, and
decoded again. Every image goes through the checked decode of ``images``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from unmask.data.images import PixelLimit, RejectedImage, decode_colour, decode_gray

BLOCK = 16  # crop offsets are multiples of this: the largest JPEG block (MCU) side


@dataclass(frozen=True)
class Harmonise:
    """What is done to every image: a centre crop (None: none) and a last JPEG encoding (None: none)."""

    crop: int | None = None
    jpeg_quality: int | None = None

    @classmethod
    def of(cls, settings: dict | None) -> Harmonise | None:
        """From the dataset's ``harmonise`` setting (None or {} : nothing is done)."""
        settings = settings or {}
        harmonise = cls(settings.get("crop"), settings.get("jpeg_quality"))
        return None if harmonise == cls() else harmonise


def crop_offset(side: int, crop: int) -> int:
    """The block-aligned offset of a centre crop of ``crop`` pixels from a side of ``side``."""
    return (side - crop) // 2 // BLOCK * BLOCK


def _crop(image: np.ndarray, crop: int) -> tuple[np.ndarray, str]:
    height, width = image.shape[:2]
    if min(height, width) < crop:
        raise RejectedImage(
            f"image of {width}x{height} pixels is smaller than the harmonise crop of {crop} (never resampled)"
        )
    y, x = crop_offset(height, crop), crop_offset(width, crop)
    return image[y : y + crop, x : x + crop], f"crop {crop} at x {x}, y {y}"


def decode(
    data: bytes, harmonise: Harmonise | None, colour: bool, limit: PixelLimit | None = None
) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Gray and (with ``colour``) BGR pixels of encoded image bytes, harmonised, and what was done to them."""
    if harmonise is None:
        if colour:
            return *decode_colour(data, limit), "as given"
        return decode_gray(data, limit), None, "as given"
    if harmonise.jpeg_quality is None and not colour:
        gray = decode_gray(data, limit)
        if harmonise.crop is None:
            return gray, None, "as given"
        gray, done = _crop(gray, harmonise.crop)
        return gray, None, done
    gray, bgr = decode_colour(data, limit)
    done = []
    if harmonise.crop is not None:
        gray, _ = _crop(gray, harmonise.crop)
        bgr, cropped = _crop(bgr, harmonise.crop)
        done.append(cropped)
    if harmonise.jpeg_quality is not None:
        gray, bgr = decode_colour(reencode(bgr, harmonise.jpeg_quality))
        done.append(f"JPEG q{harmonise.jpeg_quality} 4:2:0")
    return gray, bgr if colour else None, "; ".join(done) or "as given"


def reencode(bgr: np.ndarray, quality: int) -> bytes:
    """A BGR image encoded as a baseline JPEG at ``quality`` with 4:2:0 chroma."""
    flags = [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420]
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(bgr), flags)
    if not ok:
        raise RejectedImage(f"cannot re-encode a {bgr.shape[1]}x{bgr.shape[0]} image as JPEG")
    return data.tobytes()
