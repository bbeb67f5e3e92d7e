"""Decode images at native resolution (never resized) and say why a file is rejected.

A file is judged by decoders, never by byte heuristics: its size comes from
its header (Pillow, no pixels decoded) and is checked against a pixel limit
first; a lossless JPEG (SOF3, which no decoder here reads) is refused from its
markers; a JPEG's primary image (the first one, also in an MPO or Ultra HDR
file) must then decode without a single libjpeg warning (libjpeg-turbo
through simplejpeg, at 1/8 scale: the whole entropy-coded data is read, the
pixels are not computed). A problem before the first scan (junk bytes before
a marker, bad ICC chunks, other metadata) leaves the pixels defined: it is a
note, and the file is judged by its scans alone. A PNG must have intact chunk
checksums up to IEND (Pillow). Bytes after the end of the image (EOI, IEND)
are ignored, as every decoder does. ``_checked`` does all of this once; the
decodes (grayscale as in the seed code, native depth and colour for face
crops) sit on top of it.
"""

from __future__ import annotations

import dataclasses
import io
import mmap
import re
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

HEADER_WINDOW = 64 * 2**20  # bytes of a JPEG read for its markers before the first scan (metadata, ICC, thumbnails)
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
    note: str | None = None  # a problem that leaves the pixels defined (JPEG: before the first scan)


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


LOSSLESS_FRAMES = (0xC3, 0xC7, 0xCB, 0xCF)  # SOF3, 7, 11, 15: lossless JPEG, which libjpeg-turbo 2 cannot decode
_KEPT_APPS = (0xE0, 0xEE)  # JFIF and Adobe (the colour transform); other APPn and COM are metadata only
_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # the end of entropy-coded data: a marker, not a stuffed 00


@dataclass(frozen=True)
class JpegLayout:
    """What a JPEG's markers say before any decoder runs.

    ``frame`` is the SOFn marker; ``end`` the offset after the primary image's EOI (None: no EOI, truncated);
    ``spans`` the (start, end) byte ranges of the primary image without metadata segments and junk before the
    first scan (see ``clean``); ``notes`` the problems found before the first scan (pixels unaffected).
    """

    frame: int | None
    end: int | None
    spans: tuple[tuple[int, int], ...]
    notes: tuple[str, ...]

    def clean(self, data: bytes) -> bytes:
        """The primary image of ``data`` (the walked bytes) without the metadata and junk before its first scan."""
        return b"\xff\xd8" + b"".join(data[start:end] for start, end in self.spans)


def jpeg_layout(data: bytes | mmap.mmap, header_only: bool = False) -> JpegLayout:
    """Walk a JPEG's markers (``data`` starts with SOI); with ``header_only``, stop at the first scan."""
    pos, frame = 2, None
    kept: list[tuple[int, int]] = []
    notes: list[str] = []
    icc: list[tuple[int, ...]] = []
    while (at := data.find(b"\xff", pos)) >= 0:
        marker = at
        while marker + 1 < len(data) and data[marker + 1] == 0xFF:  # fill bytes
            marker += 1
        if marker + 1 >= len(data):
            break
        code = data[marker + 1]
        if at > pos:
            notes.append(f"{at - pos} extraneous bytes before marker 0x{code:02x}")
        if code == 0xD9:
            return JpegLayout(frame, marker + 2, (*kept, (marker, marker + 2)), _notes(notes, icc))
        if code == 0x01 or 0xD0 <= code <= 0xD8:  # TEM, RSTn, SOI: markers without a segment
            pos = marker + 2
            continue
        length = int.from_bytes(data[marker + 2 : marker + 4], "big")
        if code == 0xDA:
            if header_only:
                break
            scan = _NEXT_MARKER.search(data, marker + 2 + length)
            if scan is None:
                break
            kept.append((marker, scan.start()))
            pos = scan.start()
            continue
        segment = data[marker : marker + 18]  # enough to name an ICC chunk
        if 0xC0 <= code <= 0xCF and code not in (0xC4, 0xC8, 0xCC):
            frame = frame or code
        if code == 0xE2 and segment[4:16] == b"ICC_PROFILE\x00":
            icc.append(tuple(segment[16:18]))
        if not (0xE0 <= code <= 0xEF and code not in _KEPT_APPS or code == 0xFE):
            kept.append((marker, marker + 2 + length))
        pos = marker + 2 + length
    return JpegLayout(frame, None, tuple(kept), _notes(notes, icc))


def _notes(notes: list[str], icc: list[tuple[int, ...]]) -> tuple[str, ...]:
    """The header notes, with one for ICC chunks that do not number 1..n of n (libjpeg's 'bad ICC marker')."""
    if icc and sorted(icc) != [(index, len(icc)) for index in range(1, len(icc) + 1)]:
        notes.append("bad ICC profile chunks (the profile is ignored)")
    return tuple(notes)


def _refuse_lossless(layout: JpegLayout) -> None:
    if layout.frame in LOSSLESS_FRAMES:
        raise RejectedImage(f"lossless JPEG (SOF{layout.frame - 0xC0}) is not supported")


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
    """Read an image's size and format from its header (a JPEG's notes from its markers before the first scan);
    raise ``RejectedImage`` with the reason."""
    path = Path(path)
    if path.stat().st_size == 0:
        raise RejectedImage("empty file (0 bytes)")
    note = None
    with open(path, "rb") as file:
        if file.read(2) == b"\xff\xd8":  # only a window is mapped: an 8 GB file costs no 8 GB of address space
            window = min(path.stat().st_size, HEADER_WINDOW)
            with mmap.mmap(file.fileno(), window, access=mmap.ACCESS_READ) as data:
                layout = jpeg_layout(data, header_only=True)
            _refuse_lossless(layout)
            note = "; ".join(layout.notes) or None
    info, image = _header(path, limit)
    image.close()
    return dataclasses.replace(info, note=note)


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


def _decodes_jpeg(data: bytes) -> None:
    """Raise a decoder error unless libjpeg reads the whole image without a warning (strict, at 1/8 scale).

    A sampling layout TurboJPEG cannot name (some CMYK files) is decoded by Pillow's libjpeg instead, which
    finds truncation but ignores warnings."""
    try:
        simplejpeg.decode_jpeg(data, colorspace="GRAY", min_height=1, min_width=1, strict=True)
    except ValueError as error:
        if "Could not determine subsampling" not in str(error):
            raise
        with Image.open(io.BytesIO(data), formats=("JPEG",)) as image:
            image.load()


def _check_jpeg(data: bytes, layout: JpegLayout) -> str | None:
    """Raise ``RejectedImage`` unless the primary image's scans decode cleanly; return the header's notes."""
    notes = "; ".join(layout.notes) or None
    try:
        _decodes_jpeg(data[: layout.end] if layout.end else data)
        return notes
    except DECODER_ERRORS as error:
        problem = error
    try:  # the same scans after the metadata and junk that precede them: still a warning, the scans are damaged
        _decodes_jpeg(layout.clean(data))
    except DECODER_ERRORS:
        raise RejectedImage(f"corrupt JPEG ({problem})") from None
    return notes or f"libjpeg warning before the first scan: {problem}"


def _check_png(data: bytes, image: Image.Image) -> None:
    """Raise ``RejectedImage`` unless every chunk's CRC holds up to IEND and there is pixel data."""
    if b"IDAT" not in data:
        raise RejectedImage("corrupt PNG (no IDAT chunk: no pixel data)")
    try:
        image.verify()  # truncation, zeroed or punched data, wrong lengths
    except (*DECODER_ERRORS, IndexError) as error:
        raise RejectedImage(f"corrupt PNG ({error})") from None


def _checked(data: bytes, limit: PixelLimit | None) -> ImageInfo:
    """The one check before any decode: header, pixel limit, lossless JPEG, integrity; the info has the notes.

    Raises ``RejectedImage`` with the reason. Every decode of a user's image goes through here first.
    """
    if not data:
        raise RejectedImage("empty file (0 bytes)")
    layout = jpeg_layout(data) if data[:2] == b"\xff\xd8" else None
    if layout is not None:
        _refuse_lossless(layout)
    info, header = _header(io.BytesIO(data), limit)
    with header:
        if header.format == "PNG":
            _check_png(data, header)
            return info
    assert layout is not None, "Pillow reads a JPEG or MPO only from its SOI marker"
    return dataclasses.replace(info, note=_check_jpeg(data, layout))  # JPEG or MPO


def _imdecode(data: bytes, flags: int) -> np.ndarray:
    """OpenCV's decode of checked bytes, or ``RejectedImage``."""
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as error:
        raise RejectedImage(f"OpenCV cannot decode it ({error.err})") from None
    if image is None:
        raise RejectedImage("OpenCV cannot decode it")
    return image


def decode_gray(data: bytes, limit: PixelLimit | None = None) -> np.ndarray:
    """Decode encoded image bytes to a grayscale uint8 array at native resolution, after ``_checked``."""
    _checked(data, limit)
    return _imdecode(data, cv2.IMREAD_GRAYSCALE)


def decode_native(data: bytes, limit: PixelLimit | None = None) -> np.ndarray:
    """Decode encoded image bytes as face crops use them (EXIF orientation applied, bit depth and colour kept:
    BGR or grayscale, uint8 or uint16), after ``_checked``."""
    _checked(data, limit)
    return _imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)


def decode_colour(data: bytes, limit: PixelLimit | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The grayscale decode (the paper's pixels) and OpenCV's BGR decode of the same bytes, after ``_checked``."""
    _checked(data, limit)
    gray, colour = _imdecode(data, cv2.IMREAD_GRAYSCALE), _imdecode(data, cv2.IMREAD_COLOR)
    if colour.shape[:2] != gray.shape:
        raise RejectedImage("OpenCV's colour decode differs in size from its grayscale decode")
    return gray, colour


def read_gray(path: str | Path, limit: PixelLimit | None = None) -> np.ndarray:
    """Read an image file as grayscale at native resolution, as the seed code's ``cv2.imread(path, 0)``."""
    return decode_gray(Path(path).read_bytes(), limit)


def read_native(path: str | Path, limit: PixelLimit | None = None) -> np.ndarray:
    """Read an image file as ``decode_native`` decodes it."""
    return decode_native(Path(path).read_bytes(), limit)


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
        ok, data = cv2.imencode(suffix, image, [] if flag is None or value is None else [flag, int(value)])
    except cv2.error:
        ok = False
    if not ok:
        raise ValueError(f"cannot encode a {image.shape} image as {suffix!r} for {path}")
    with atomic_output(path) as tmp:
        tmp.write_bytes(data.tobytes())
