"""Face crops from videos: sample N frames, find the face, cut a square at native resolution.

``process_video`` is the entry point: it always returns exactly ``n`` records
per video, one per requested sample. A record without a crop says why in
``reason`` (no face, undecodable frame, video too short, unreadable file);
nothing here raises on a bad video, so one broken file never stops a batch.

Frame reading. The container's frame count is only a claim: it is used to
place the samples, and a video that ends before it is detected while reading
(the missing samples are recorded with the reason). A video whose header gives
no count is counted by decoding it once. For H.264, one sequential pass with
``grab()`` (decode only) and ``retrieve()`` (colour conversion, sampled frames
only) beats seeking unless samples are far apart: each ``CAP_PROP_POS_FRAMES``
seek decodes again from the previous key frame (typically up to 250 frames
with x264 defaults). See ``benchmarks/bench_video.py`` for the measurements.

Crops are squares cut from the decoded frame itself, never resized: the
spectral features depend on the pixels' native frequencies. Detection may run
on a downscaled grayscale copy; only the box is mapped back.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from unmask.data.images import write_image

SEEK_MIN_GAP = 300  # mean gap (frames) above which seeking wins; 1080p x264: seek won at 420, lost at 280
HAAR_CASCADE = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"


@dataclass(frozen=True)
class SampledFrame:
    """One requested sample: the decoded BGR frame, or ``None`` and the reason."""

    index: int | None
    timestamp_ms: float | None
    image: np.ndarray | None
    reason: str | None = None


@dataclass(frozen=True)
class FrameRecord:
    """What happened to one sample of one video (a row of the crop table)."""

    video: str
    frame_index: int | None  # None when the sample does not exist (short or unreadable video)
    timestamp_ms: float | None
    crop_path: str | None  # the PNG crop
    x: int | None  # crop's top-left corner and side, in frame pixels
    y: int | None
    size: int | None
    reason: str | None  # why there is no crop


def sample_frame_indices(frame_count: int, n: int) -> list[int]:
    """``n`` frame indices evenly spread over ``frame_count`` frames (centres of n equal spans).

    Returns every frame when the video has fewer than ``n``; none for ``frame_count <= 0``.
    """
    if n < 1:
        raise ValueError(f"number of frames to sample must be >= 1, got {n}")
    if frame_count <= n:
        return list(range(max(frame_count, 0)))
    return [int((i + 0.5) * frame_count / n) for i in range(n)]


def choose_method(frame_count: int, n: int) -> str:
    """``"seek"`` when samples are on average more than ``SEEK_MIN_GAP`` frames apart, else ``"sequential"``."""
    return "seek" if frame_count / max(n, 1) > SEEK_MIN_GAP else "sequential"


def _open_problem(path: Path) -> str | None:
    """Why ``path`` cannot be a video, before asking the decoder (or ``None``)."""
    if not path.is_file():
        return f"video file not found: {path}"
    if path.stat().st_size == 0:
        return f"video file is empty (0 bytes): {path}"
    return None


def _count_frames(capture: cv2.VideoCapture) -> int:
    """Decode to the end and count (for headers that give no frame count)."""
    count = 0
    while capture.grab():
        count += 1
    return count


def _sequential(capture: cv2.VideoCapture, indices: list[int], claimed: int) -> Iterator[SampledFrame]:
    """Samples from one pass: ``grab()`` every frame, ``retrieve()`` only the sampled ones."""
    position = 0  # frames grabbed so far
    for k, index in enumerate(indices):
        while position <= index and capture.grab():
            position += 1
        if position <= index:
            reason = f"video ended after {position} frames (header claimed {claimed})"
            for missing in indices[k:]:
                yield SampledFrame(missing, None, None, reason)
            return
        timestamp = capture.get(cv2.CAP_PROP_POS_MSEC)
        ok, image = capture.retrieve()
        yield SampledFrame(index, timestamp, image if ok else None, None if ok else "frame could not be decoded")


def _seek(capture: cv2.VideoCapture, indices: list[int], claimed: int) -> Iterator[SampledFrame]:
    """Samples by seeking to each index (``CAP_PROP_POS_FRAMES``)."""
    for index in indices:
        if not (capture.set(cv2.CAP_PROP_POS_FRAMES, index) and capture.grab()):
            yield SampledFrame(index, None, None, f"could not read frame {index} (header claimed {claimed} frames)")
            continue
        timestamp = capture.get(cv2.CAP_PROP_POS_MSEC)
        ok, image = capture.retrieve()
        yield SampledFrame(index, timestamp, image if ok else None, None if ok else "frame could not be decoded")


def read_samples(path: str | os.PathLike, n: int = 20, method: str = "auto") -> Iterator[SampledFrame]:
    """Exactly ``n`` samples of a video, evenly spread; failures come back as samples with a reason.

    ``method`` is ``"sequential"``, ``"seek"`` or ``"auto"`` (``choose_method``). Samples that
    do not exist (video shorter than ``n`` frames, unreadable file) have ``index=None``.
    """
    if method not in ("auto", "sequential", "seek"):
        raise ValueError(f"unknown frame reading method {method!r}")
    path = Path(path)
    produced = 0
    reason = _open_problem(path)
    if reason is None:
        capture = cv2.VideoCapture(str(path))
        try:
            if not capture.isOpened():
                reason = f"cannot open video (unreadable or truncated file): {path}"
            else:
                claimed = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
                if claimed <= 0:
                    claimed = _count_frames(capture)
                    capture.release()
                    capture = cv2.VideoCapture(str(path))
                indices = sample_frame_indices(claimed, n)
                if method == "auto":
                    method = choose_method(claimed, n)
                read = _seek if method == "seek" else _sequential
                for sample in read(capture, indices, claimed):
                    produced += 1
                    yield sample
                reason = (f"no decodable frames in video: {path}" if claimed == 0
                          else f"video has only {claimed} frames, fewer than the {n} requested")
        finally:
            capture.release()
    for _ in range(n - produced):
        yield SampledFrame(None, None, None, reason)


class FaceDetector:
    """The most prominent face in a BGR frame, as ``(x, y, w, h)`` in frame pixels, or ``None``.

    OpenCV's Haar cascade (largest face) by default; YuNet (``cv2.FaceDetectorYN``, most
    confident face) when ``yunet_model`` names its ONNX file. Detection runs on a copy
    downscaled so its longer side is at most ``max_side`` pixels (``None``: full size).
    The Haar search skips faces smaller than ``min_face`` x the frame's shorter side.
    """

    def __init__(self, yunet_model: str | os.PathLike | None = None, max_side: int | None = 640,
                 min_face: float = 0.1, score_threshold: float = 0.8):
        self.max_side = max_side
        self.min_face = min_face
        if yunet_model is None:
            self._haar = cv2.CascadeClassifier(str(HAAR_CASCADE))
            if self._haar.empty():
                raise RuntimeError(f"cannot load Haar cascade {HAAR_CASCADE}")
            self._yunet = None
        else:
            if not Path(yunet_model).is_file():
                raise FileNotFoundError(f"YuNet model file not found: {yunet_model}")
            self._haar = None
            self._yunet = cv2.FaceDetectorYN.create(str(yunet_model), "", (320, 320), score_threshold)

    def __call__(self, frame: np.ndarray) -> tuple[float, float, float, float] | None:
        height, width = frame.shape[:2]
        scale = 1.0
        if self.max_side and max(height, width) > self.max_side:
            scale = self.max_side / max(height, width)
            frame = cv2.resize(frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        if self._yunet is not None:
            self._yunet.setInputSize((frame.shape[1], frame.shape[0]))
            _, faces = self._yunet.detect(frame)
            if faces is None or len(faces) == 0:
                return None
            box = faces[np.argmax(faces[:, -1]), :4]
        else:
            gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
            smallest = max(24, round(self.min_face * min(gray.shape)))
            faces = self._haar.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest))
            if len(faces) == 0:
                return None
            box = faces[np.argmax(faces[:, 2] * faces[:, 3])]
        return tuple(float(v) / scale for v in box)


def square_box(face: tuple[float, float, float, float], width: int, height: int,
               margin: float = 0.25) -> tuple[int, int, int]:
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


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write an image as a lossless PNG, atomically."""
    write_image(path, image)


def process_video(path: str | os.PathLike, out_dir: str | os.PathLike, n: int = 20, margin: float = 0.25,
                  detector: FaceDetector | None = None, method: str = "auto") -> list[FrameRecord]:
    """Sample ``n`` frames, crop the face of each into ``out_dir/<stem>_<frame:06d>.png``.

    Returns exactly ``n`` records; the ones without a crop carry the reason.
    """
    detector = detector or FaceDetector()
    out_dir = Path(out_dir)
    records = []
    for sample in read_samples(path, n, method):
        reason = sample.reason
        crop = x = y = size = None
        if sample.image is not None:
            face = detector(sample.image)
            if face is None:
                reason = "no face detected"
            else:
                height, width = sample.image.shape[:2]
                x, y, size = square_box(face, width, height, margin)
                crop = out_dir / f"{Path(path).stem}_{sample.index:06d}.png"
                write_png(crop, sample.image[y:y + size, x:x + size])
                crop = str(crop)
        records.append(FrameRecord(str(path), sample.index, sample.timestamp_ms, crop, x, y, size, reason))
    return records


_DFD_FAKE = re.compile(r"(?P<target>\d+)_(?P<source>\d+)__(?P<scene>.+)__(?P<tag>[A-Za-z0-9]+)")
_DFD_ORIGINAL = re.compile(r"(?P<target>\d+)__(?P<scene>.+)")
_FFPP = re.compile(r"(?P<target>\d+)(?:_(?P<source>\d+))?")


def _parse(path: str | os.PathLike) -> tuple[str, tuple[str, ...]]:
    """``(video id, actor ids)`` from a file name."""
    stem = Path(path).stem
    if m := _DFD_FAKE.fullmatch(stem):
        return f"{m['target']}__{m['scene']}", (m["target"], m["source"])
    if m := _DFD_ORIGINAL.fullmatch(stem):
        return stem, (m["target"],)
    if m := _FFPP.fullmatch(stem):
        return m["target"], tuple(a for a in (m["target"], m["source"]) if a)
    return stem, (stem,)


def video_group(path: str | os.PathLike) -> str:
    """The id of the original video a file was made from: a fake and its original share it.

    DeepFakeDetection: ``01_02__meeting_serious__YVGY8LOK.mp4`` (actor 01's video with
    actor 02's face) and ``01__meeting_serious.mp4`` both give ``"01__meeting_serious"``.
    FaceForensics++: ``183_253.mp4`` (video 183 with the face of 253) and ``183.mp4``
    give ``"183"``. Other names give their stem.
    """
    return _parse(path)[0]


def actor_ids(path: str | os.PathLike) -> tuple[str, ...]:
    """Every identity whose face may appear in a file: target first, then the swapped-in source.

    ``01_02__meeting_serious__YVGY8LOK.mp4`` -> ``("01", "02")``; ``01__kitchen_pan.mp4`` ->
    ``("01",)``; ``183_253.mp4`` -> ``("183", "253")`` (FaceForensics++ source video ids);
    other names -> ``(stem,)``. Leakage-free splits keep videos that share any id in one fold.
    """
    return _parse(path)[1]
