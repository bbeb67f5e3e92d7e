"""Face crops from videos: sample N frames, find the face, cut a square at native resolution.

``process_video`` is the entry point: it always returns exactly ``n`` records
per video, one per requested sample. A record without a crop says why in
``reason`` (no face, undecodable frame, video too short, unreadable file);
nothing here raises on a bad video, so one broken file never stops a batch.

Frame reading. The container's frame count is only a claim: it is used to
place the samples, and a video that ends before it is detected while reading
(the missing samples are recorded with the reason). A video whose header gives
no count is counted by decoding it once. For H.264, one sequential pass (PyAV,
decoding only the frames others refer to plus the samples, converting only the
samples) beats seeking unless samples are far apart: each ``CAP_PROP_POS_FRAMES``
seek decodes again from the previous key frame (typically up to 250 frames
with x264 defaults). See ``benchmarks/bench_video.py`` for the measurements.

Crops are squares cut from the decoded frame itself, never resized: the
spectral features depend on the pixels' native frequencies. Detection may run
on a downscaled grayscale copy; only the box is mapped back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from unmask.data.faces import FaceDetector, crop_face
from unmask.data.images import PixelLimit, write_image

SEEK_MIN_GAP = 300  # mean gap (frames) above which seeking wins; 1080p x264: seek won at 420, lost at 280


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


def _open(path: Path) -> av.container.InputContainer:
    """The file opened for demuxing; tags that are not UTF-8 (a damaged or Latin-1 title) are read, not fatal."""
    return av.open(str(path), metadata_errors="replace")


def _unopened(path: Path) -> str:
    """Why OpenCV cannot open a file: it holds no video stream (audio only, or an MP4 track without frames),
    or it is unreadable or cut short."""
    try:
        with _open(path) as container:
            if not container.streams.video:
                return f"no video stream in the file: {path}"
    except av.FFmpegError:
        pass
    return f"cannot open video (unreadable or truncated file): {path}"


def _stream_problem(path: Path, limit: PixelLimit | None) -> str | None:
    """Why an opened file is no video to sample (or ``None``): a still image under a video's name, or frames
    over the pixel ``limit`` (from the header: a small file may declare frames of gigabytes)."""
    try:
        with _open(path) as container:
            image_format = container.format.name
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
    except (av.FFmpegError, IndexError) as error:
        return f"cannot open video ({error}): {path}"
    if image_format.endswith("_pipe") or image_format == "image2":
        return f"not a video: a single {image_format.removesuffix('_pipe')} image named like one: {path}"
    excess = limit.excess(width, height) if limit else None
    return f"video frames of {excess.replace('exceeds', 'exceed')}: {path}" if excess else None


def _count_frames(capture: cv2.VideoCapture) -> int:
    """Decode to the end and count (for headers that give no frame count)."""
    count = 0
    while capture.grab():
        count += 1
    return count


def _packet_times(path: Path) -> list[int] | None:
    """Every video packet's presentation time, sorted (display order), or ``None`` if one lacks it."""
    with _open(path) as container:
        times = [packet.pts for packet in container.demux(container.streams.video[0]) if packet.size]
    return None if None in times else sorted(time for time in times if time is not None)


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """A decoded frame turned as its display matrix says (``rotation``: degrees counter-clockwise), as players
    and OpenCV show it: a phone video held upright comes out upright, its pixels moved, none changed."""
    return np.ascontiguousarray(np.rot90(image, round(rotation / 90) % 4))


def _sequential(path: Path, indices: list[int], claimed: int) -> Iterator[SampledFrame]:
    """Samples from one decoding pass (PyAV) that skips the frames nothing else refers to, unless sampled.

    Every frame that others are predicted from must be decoded, but a non-reference frame
    (most B-frames of H.264) is skipped unless it is a sample: about half the decoding work
    of a typical x264 stream. Frames are placed by their presentation time, so the samples
    are the same frames, with the same pixels, as OpenCV's ``grab()``/``retrieve()`` gives.
    A frame whose packet the demuxer marks corrupt (cut short by the end of the file) is no sample:
    its decoder would fill the missing part in.
    """
    try:
        times = _packet_times(path)
    except (av.FFmpegError, IndexError) as error:
        yield from (SampledFrame(i, None, None, f"cannot demux the video ({error})") for i in indices)
        return
    frames = len(times) if times is not None else claimed
    wanted: dict[int | None, int] = {times[i]: i for i in indices if i < frames} if times is not None else {}
    remaining = list(indices)  # decoders give frames in display order: samples come out in index order
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_count = 1  # one core per job, as the workflow schedules it; frame threads cost ~10% more CPU
        context, base = stream.codec_context, times[0] if times else 0
        position = 0  # frames decoded so far (for videos without presentation times)
        damaged = set()  # presentation times of packets the demuxer found cut short or broken
        for packet in container.demux(stream):
            if packet.is_corrupt:
                damaged.add(packet.pts)
            if times is not None:
                context.skip_frame = "DEFAULT" if packet.pts in wanted else "NONREF"
            try:
                decoded = packet.decode()
            except av.FFmpegError:
                continue
            for frame in decoded:
                index = wanted.get(frame.pts) if times is not None else position
                position += 1
                if index is None or index not in remaining:
                    continue
                while remaining[0] != index:  # an earlier sample the decoder could not give
                    yield SampledFrame(remaining.pop(0), None, None, "frame could not be decoded")
                milliseconds = (
                    float((frame.pts - base) * frame.time_base * 1000)  # type: ignore[operator]  # a decoded frame has a time base
                    if frame.pts is not None
                    else None
                )
                if frame.pts is not None and frame.pts in damaged:
                    yield SampledFrame(remaining.pop(0), milliseconds, None, "frame is damaged (its data is cut short)")
                    continue
                image = _upright(frame.to_ndarray(format="bgr24"), frame.rotation)
                yield SampledFrame(remaining.pop(0), milliseconds, image)
        frames = frames if times is not None else position
    for index in remaining:
        reason = f"video ended after {frames} frames (header claimed {claimed})" if index >= frames else None
        yield SampledFrame(index, None, None, reason or "frame could not be decoded")


def _seek(capture: cv2.VideoCapture, indices: list[int], claimed: int) -> Iterator[SampledFrame]:
    """Samples by seeking to each index (``CAP_PROP_POS_FRAMES``).

    A seek past the last frame that can be decoded (a file cut short after its index) may still
    "succeed" and give that last frame again: a grab counts only where it leaves the reader just
    after the requested frame.
    """
    for index in indices:
        if not (
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            and capture.grab()
            and round(capture.get(cv2.CAP_PROP_POS_FRAMES)) == index + 1
        ):
            yield SampledFrame(index, None, None, f"could not read frame {index} (header claimed {claimed} frames)")
            continue
        timestamp = capture.get(cv2.CAP_PROP_POS_MSEC)
        ok, image = capture.retrieve()
        yield SampledFrame(index, timestamp, image if ok else None, None if ok else "frame could not be decoded")


def read_samples(
    path: str | os.PathLike[str], n: int = 20, method: str = "auto", limit: PixelLimit | None = None
) -> Iterator[SampledFrame]:
    """Exactly ``n`` samples of a video, evenly spread; failures come back as samples with a reason.

    ``method`` is ``"sequential"``, ``"seek"`` or ``"auto"`` (``choose_method``). Samples that
    do not exist (video shorter than ``n`` frames, unreadable file, a still image, frames with
    more pixels than ``limit``) have ``index=None``.
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
                reason = _unopened(path)
            elif problem := _stream_problem(path, limit):
                reason = problem
            else:
                claimed = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
                if claimed <= 0:
                    claimed = _count_frames(capture)
                    capture.release()
                    capture = cv2.VideoCapture(str(path))
                indices = sample_frame_indices(claimed, n)
                if method == "auto":
                    method = choose_method(claimed, n)
                samples = _seek(capture, indices, claimed) if method == "seek" else _sequential(path, indices, claimed)
                for sample in samples:
                    produced += 1
                    yield sample
                reason = (
                    f"no decodable frames in video: {path}"
                    if claimed == 0
                    else f"video has only {claimed} frames, fewer than the {n} requested"
                )
        finally:
            capture.release()
    for _ in range(n - produced):
        yield SampledFrame(None, None, None, reason)


def process_video(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    n: int = 20,
    margin: float = 0.25,
    detector: FaceDetector | None = None,
    method: str = "auto",
    limit: PixelLimit | None = None,
) -> list[FrameRecord]:
    """Sample ``n`` frames, crop the face of each into ``out_dir/<stem>_<frame:06d>.png``.

    Returns exactly ``n`` records; the ones without a crop carry the reason (a video whose frames
    have more pixels than ``limit`` is refused from its header).
    """
    detector = detector or FaceDetector()
    out_dir = Path(out_dir)
    records = []
    for sample in read_samples(path, n, method, limit):
        reason = sample.reason
        crop_path = x = y = size = None
        if sample.image is not None:
            crop = crop_face(sample.image, detector, margin)
            if crop is None:
                reason = f"no face found ({detector.describe()})"
            else:
                x, y, size = crop.x, crop.y, crop.size
                crop_file = out_dir / f"{Path(path).stem}_{sample.index:06d}.png"
                write_image(crop_file, crop.pixels)
                crop_path = str(crop_file)
        records.append(FrameRecord(str(path), sample.index, sample.timestamp_ms, crop_path, x, y, size, reason))
    return records


_DFD_FAKE = re.compile(r"(?P<target>\d+)_(?P<source>\d+)__(?P<scene>.+)__(?P<tag>[A-Za-z0-9]+)")
_DFD_ORIGINAL = re.compile(r"(?P<target>\d+)__(?P<scene>.+)")
_FFPP = re.compile(r"(?P<target>\d+)(?:_(?P<source>\d+))?")


def _parse(path: str | os.PathLike[str]) -> tuple[str, tuple[str, ...]]:
    """``(video id, actor ids)`` from a file name."""
    stem = Path(path).stem
    if m := _DFD_FAKE.fullmatch(stem):
        return f"{m['target']}__{m['scene']}", (m["target"], m["source"])
    if m := _DFD_ORIGINAL.fullmatch(stem):
        return stem, (m["target"],)
    if m := _FFPP.fullmatch(stem):
        return m["target"], tuple(a for a in (m["target"], m["source"]) if a)
    return stem, (stem,)


def video_group(path: str | os.PathLike[str]) -> str:
    """The id of the original video a file was made from: a fake and its original share it.

    DeepFakeDetection: ``01_02__meeting_serious__YVGY8LOK.mp4`` (actor 01's video with
    actor 02's face) and ``01__meeting_serious.mp4`` both give ``"01__meeting_serious"``.
    FaceForensics++: ``183_253.mp4`` (video 183 with the face of 253) and ``183.mp4``
    give ``"183"``. Other names give their stem.
    """
    return _parse(path)[0]


def actor_ids(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Every identity whose face may appear in a file: target first, then the swapped-in source.

    ``01_02__meeting_serious__YVGY8LOK.mp4`` -> ``("01", "02")``; ``01__kitchen_pan.mp4`` ->
    ``("01",)``; ``183_253.mp4`` -> ``("183", "253")`` (FaceForensics++ source video ids);
    other names -> ``(stem,)``. Leakage-free splits keep videos that share any id in one fold.
    """
    return _parse(path)[1]
