"""Decode images at native resolution (never resized) and say why a file is rejected.

A file is judged by decoders, never by byte heuristics: its size comes from
its header (Pillow, no pixels decoded) and is checked against a pixel limit
first; a JPEG must then decode without a single libjpeg warning (libjpeg-turbo
through simplejpeg, at 1/8 scale: the whole entropy-coded data is read, the
pixels are not computed); a PNG must have intact chunk checksums up to IEND
(Pillow). Bytes after the end of the image (EOI, IEND) are ignored, as every
decoder does. The pixels for the features are OpenCV's grayscale decode, as in
the seed code.
"""

from __future__ import annotations

import io
import stat
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import simplejpeg
from PIL import Image, UnidentifiedImageError

from unmask import IMAGE_SUFFIXES
from unmask.io import atomic_output, list_files

# Pillow's own decompression-bomb limit would refuse (above 179 Mpx, without the size) or warn about
# images that the configured limit allows; the limit is checked here, from the header, before any decode.
Image.MAX_IMAGE_PIXELS = None

FORMATS = ("JPEG", "PNG")  # what the image suffixes promise; Pillow opens nothing else (no plug-in surprises)
DECODER_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, cv2.error)  # one bad file, not a bug


class RejectedImage(ValueError):
    """A file that cannot serve as an input image; the message is the reason."""


@dataclass(frozen=True)
class ImageInfo:
    """What the manifest records of an image without decoding its pixels."""

    width: int
    height: int
    format: str


@dataclass(frozen=True)
class PixelLimit:
    """The most pixels an image may have, and the setting that says so (named in the reason)."""

    pixels: int
    setting: str = "max_pixels"

    def excess(self, width: int, height: int) -> str | None:
        """Why a ``width`` x ``height`` image is refused, or None when it is within the limit."""
        if width * height <= self.pixels:
            return None
        return f"{width}x{height} = {_mpx(width * height)} exceeds the limit of {_mpx(self.pixels)} ({self.setting})"


def _mpx(pixels: int) -> str:
    return f"{pixels / 1e6:.6g} Mpx"


def list_images(folder: str | Path) -> list[Path]:
    """Image files under ``folder``, searched recursively, in sorted (deterministic) order."""
    return list_files(folder, IMAGE_SUFFIXES)


def _header(source: str | Path | BinaryIO, limit: PixelLimit | None) -> tuple[ImageInfo, Image.Image]:
    """Size and format from the header (nothing decoded), checked against ``limit``; the file stays open."""
    try:
        image = Image.open(source, formats=FORMATS)
    except UnidentifiedImageError:
        raise RejectedImage("not a readable image (no JPEG or PNG decoder accepts its header)") from None
    except DECODER_ERRORS as error:
        raise RejectedImage(f"not a readable image ({error})") from None
    info = ImageInfo(image.width, image.height, image.format or "unknown")
    if limit is not None and (reason := limit.excess(info.width, info.height)):
        image.close()
        raise RejectedImage(reason)
    return info, image


def probe(path: str | Path, limit: PixelLimit | None = None) -> ImageInfo:
    """Read an image's size and format from its header; raise ``RejectedImage`` with the reason."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise RejectedImage("empty file (0 bytes)")
    info, image = _header(path, limit)
    image.close()
    return info


def check_file(path: str | Path, limit: PixelLimit | None = None) -> None:
    """Check format and pixel limit from the header before a file is read whole (an 8 GB file named .png costs
    a few bytes) and refuse a device; a pipe (``<(curl ...)``) can be read once only, so it is not checked apart."""
    mode = Path(path).stat().st_mode
    if stat.S_ISFIFO(mode):
        return
    if stat.S_ISDIR(mode):
        raise RejectedImage("a folder, not an image file")
    if not stat.S_ISREG(mode):
        raise RejectedImage("not a regular file (a device or socket)")
    probe(path, limit)


def _check_integrity(data: bytes, image: Image.Image) -> None:
    """Raise ``RejectedImage`` unless the decoder reads the whole image without an error or a warning."""
    try:
        if image.format == "PNG":
            image.verify()  # every chunk's CRC up to IEND: truncation, zeroed or punched data, wrong lengths
        else:  # JPEG (or MPO, a JPEG with more images after its EOI): any libjpeg warning is an error
            simplejpeg.decode_jpeg(data, colorspace="GRAY", min_height=1, min_width=1, strict=True)
    except DECODER_ERRORS as error:
        raise RejectedImage(f"corrupt {image.format} ({error})") from None


def decode_gray(data: bytes, limit: PixelLimit | None = None) -> np.ndarray:
    """Decode encoded image bytes to a grayscale uint8 array at native resolution, after the checks above."""
    if not data:
        raise RejectedImage("empty file (0 bytes)")
    _, header = _header(io.BytesIO(data), limit)
    with header:
        _check_integrity(data, header)
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    except cv2.error as error:
        raise RejectedImage(f"OpenCV cannot decode it ({error.err})") from None
    if image is None:
        raise RejectedImage("OpenCV cannot decode it")
    return image


def decode_colour(data: bytes, limit: PixelLimit | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The grayscale decode (``decode_gray``, its checks included) and OpenCV's BGR decode of the same bytes."""
    gray = decode_gray(data, limit)
    try:
        colour = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as error:
        raise RejectedImage(f"OpenCV cannot decode it in colour ({error.err})") from None
    if colour is None or colour.shape[:2] != gray.shape:
        raise RejectedImage("OpenCV cannot decode it in colour")
    return gray, colour


def read_gray(path: str | Path, limit: PixelLimit | None = None) -> np.ndarray:
    """Read an image file as grayscale at native resolution, as the seed code's ``cv2.imread(path, 0)``."""
    return decode_gray(Path(path).read_bytes(), limit)


def write_image(
    path: str | Path, image: np.ndarray, quality: int | None = None, compression: int | None = None
) -> None:
    """Encode ``image`` in the format of ``path``'s suffix and write it atomically.

    ``quality`` is the JPEG quality (0-100) and ``compression`` the PNG
    compression level (0-9); None keeps OpenCV's default.
    """
    suffix = Path(path).suffix.lower()
    flag, value = {
        ".jpg": (cv2.IMWRITE_JPEG_QUALITY, quality),
        ".jpeg": (cv2.IMWRITE_JPEG_QUALITY, quality),
        ".png": (cv2.IMWRITE_PNG_COMPRESSION, compression),
    }.get(suffix, (None, None))
    try:
        ok, data = cv2.imencode(suffix, image, [] if value is None else [flag, int(value)])
    except cv2.error:
        ok = False
    if not ok:
        raise ValueError(f"cannot encode a {image.shape} image as {suffix!r} for {path}")
    with atomic_output(path) as tmp:
        tmp.write_bytes(data.tobytes())
