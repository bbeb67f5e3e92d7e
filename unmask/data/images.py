"""Decode images at native resolution (never resized) and say why a file is rejected."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from unmask import IMAGE_SUFFIXES
from unmask.io import atomic_output, list_files


class RejectedImage(ValueError):
    """A file that cannot serve as an input image; the message is the reason."""


@dataclass(frozen=True)
class ImageInfo:
    """What the manifest records of an image without decoding its pixels."""

    width: int
    height: int
    format: str


def list_images(folder: str | Path) -> list[Path]:
    """Image files under ``folder``, searched recursively, in sorted (deterministic) order."""
    return list_files(folder, IMAGE_SUFFIXES)


def probe(path: str | Path) -> ImageInfo:
    """Read an image's size and format from its header; raise ``RejectedImage`` with the reason."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise RejectedImage("empty file (0 bytes)")
    try:
        with Image.open(path) as image:
            return ImageInfo(image.width, image.height, image.format or "unknown")
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise RejectedImage(f"not a readable image ({error})") from None


def _truncation(data: bytes) -> str | None:
    """Why an encoded JPEG/PNG is incomplete, or None (decoders often pad truncated files silently)."""
    # An end-of-image marker in the last bytes settles it without scanning back to the last scan marker.
    if data[:2] == b"\xff\xd8" and b"\xff\xd9" not in data[-64:] and data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda"):
        return "truncated JPEG (no end-of-image marker after the last scan)"
    if data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" not in data[-16:]:
        return "truncated PNG (no IEND chunk)"
    return None


def decode_gray(data: bytes) -> np.ndarray:
    """Decode encoded image bytes to a grayscale uint8 array at native resolution."""
    if not data:
        raise RejectedImage("empty file (0 bytes)")
    if reason := _truncation(data):
        raise RejectedImage(reason)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise RejectedImage("OpenCV cannot decode it")
    return image


def read_gray(path: str | Path) -> np.ndarray:
    """Read an image file as grayscale at native resolution, as the seed code's ``cv2.imread(path, 0)``."""
    return decode_gray(Path(path).read_bytes())


def write_image(path: str | Path, image: np.ndarray, quality: int | None = None,
                compression: int | None = None) -> None:
    """Encode ``image`` in the format of ``path``'s suffix and write it atomically.

    ``quality`` is the JPEG quality (0-100) and ``compression`` the PNG
    compression level (0-9); None keeps OpenCV's default.
    """
    suffix = Path(path).suffix.lower()
    flag, value = {".jpg": (cv2.IMWRITE_JPEG_QUALITY, quality), ".jpeg": (cv2.IMWRITE_JPEG_QUALITY, quality),
                   ".png": (cv2.IMWRITE_PNG_COMPRESSION, compression)}.get(suffix, (None, None))
    try:
        ok, data = cv2.imencode(suffix, image, [] if value is None else [flag, int(value)])
    except cv2.error:
        ok = False
    if not ok:
        raise ValueError(f"cannot encode a {image.shape} image as {suffix!r} for {path}")
    with atomic_output(path) as tmp:
        tmp.write_bytes(data.tobytes())
