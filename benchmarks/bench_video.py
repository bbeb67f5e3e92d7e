"""Speed of the video stage: decode + detect + crop + write on a 1080p clip, before/after, and seek vs sequential.

"before" is the reader and detector as they were until the faces branch (OpenCV grab() of every
frame, Haar on a copy of at most 640 px searching faces from 0.1 of its shorter side), kept here
to compare in one run; the other rows are ``process_video`` (PyAV skipping unsampled non-reference
frames) with Haar's full search (``haar_two_stage=False``, the detector until the video branch),
Haar's two-stage search (the default, ``unmask.data.haar``) or YuNet. Per core = sampled frames per
CPU second; boxes are compared with before's and with the full search's.

Uses the DeepFakeDetection actor clip in ../shared/data (1080p H.264) when present; otherwise
writes a synthetic 1080p clip (mp4v: this OpenCV build has no H.264 encoder, so figures differ).

    python benchmarks/bench_video.py [--video PATH] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
from matplotlib import cbook

from unmask.data.faces import FaceDetector, square_box
from unmask.data.haar import HAAR_CASCADE
from unmask.data.images import write_image
from unmask.data.video import process_video, read_samples, sample_frame_indices

YUNET = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "face_detection_yunet.onnx"

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "faceforensics_c40"
SHARED_CLIP = SAMPLES / "original_sequences" / "actors" / "c40" / "videos" / "06__outside_talking_still_laughing.mp4"


def synthetic_clip(path: Path, frames: int = 300) -> Path:
    """A 1080p mp4v clip with a face photo drifting over a textured background."""
    photo = cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8), (9, 9), 0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (1920, 1080))
    for i in range(frames):
        frame = np.roll(background, i, axis=1)
        x, y = 600 + 2 * i, 200 + i
        frame[y : y + photo.shape[0], x : x + photo.shape[1]] = photo
        writer.write(frame)
    writer.release()
    return path


def best_of(repeats: int, fn) -> tuple[float, float]:
    """Shortest wall time and shortest CPU time (all threads) of ``repeats`` calls.

    The best of several runs, and CPU time, are less disturbed by other jobs on a shared machine.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return min(wall), min(cpu)


def decode_rates(video: Path, repeats: int) -> tuple[int, float, float]:
    """Frame count, full-decode fps (``read``) and decode-only fps (``grab``)."""

    def run(step):
        capture = cv2.VideoCapture(str(video))
        count = 0
        while step(capture):
            count += 1
        capture.release()
        return count

    count = run(cv2.VideoCapture.grab)
    read = best_of(repeats, lambda: run(lambda c: c.read()[0]))[0]
    grab = best_of(repeats, lambda: run(cv2.VideoCapture.grab))[0]
    return count, count / read, count / grab


def stage_times(video: Path, n: int, out_dir: Path) -> dict[str, list[float]]:
    """Per-sample seconds of each stage of ``process_video`` (and of the alternatives to its detection)."""
    small = FaceDetector()
    alternatives = {
        "detect full search": FaceDetector(haar_two_stage=False),
        "detect full-res": FaceDetector(max_side=None),
    }
    stages: dict[str, list[float]] = {k: [] for k in ("decode", "detect", *alternatives, "crop", "write")}
    samples = read_samples(video, n, method="sequential")
    while True:
        start = time.perf_counter()
        sample = next(samples, None)
        stages["decode"].append(time.perf_counter() - start)
        if sample is None:
            break
        start = time.perf_counter()
        face = small(sample.image)
        stages["detect"].append(time.perf_counter() - start)
        for name, detector in alternatives.items():
            start = time.perf_counter()
            detector(sample.image)
            stages[name].append(time.perf_counter() - start)
        if face is None:
            continue
        start = time.perf_counter()
        x, y, size = square_box(face, sample.image.shape[1], sample.image.shape[0])
        crop = np.ascontiguousarray(sample.image[y : y + size, x : x + size])
        stages["crop"].append(time.perf_counter() - start)
        start = time.perf_counter()
        write_image(out_dir / f"{sample.index:06d}.png", crop)
        stages["write"].append(time.perf_counter() - start)
    stages["decode"].pop()  # the final call that found the generator exhausted
    return stages


def before(video: Path, n: int, out_dir: Path) -> list[tuple[int, int, int] | None]:
    """The crop boxes of the reader and Haar detector as they were before the faces branch (for comparison)."""
    capture = cv2.VideoCapture(str(video))
    indices = sample_frame_indices(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), n)
    haar, boxes, position = cv2.CascadeClassifier(str(HAAR_CASCADE)), [], 0
    for index in indices:
        while position <= index and capture.grab():
            position += 1
        frame = capture.retrieve()[1]
        scale = min(1.0, 640 / max(frame.shape[:2]))
        small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        smallest = max(24, round(0.1 * min(gray.shape)))
        faces = haar.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest))
        if len(faces) == 0:
            boxes.append(None)
            continue
        face = tuple(float(v) / scale for v in faces[np.argmax(faces[:, 2] * faces[:, 3])])
        x, y, size = square_box(face, frame.shape[1], frame.shape[0])
        write_image(out_dir / f"{index:06d}.png", frame[y : y + size, x : x + size])
        boxes.append((x, y, size))
    capture.release()
    return boxes


def compare(video: Path, n: int, repeats: int, out_dir: Path) -> None:
    """Sampled frames per second (wall) and per CPU second, before and after; how far the boxes moved."""
    old = before(video, n, out_dir / "before")
    runs = {"before (OpenCV grab, Haar)": lambda: before(video, n, out_dir / "before")}
    detectors = {
        "Haar full search": FaceDetector("haar", haar_two_stage=False),
        "Haar two-stage": FaceDetector("haar"),
        "Haar full search, min_face 108": FaceDetector("haar", min_face=108, haar_two_stage=False),
        "Haar two-stage, min_face 108": FaceDetector("haar", min_face=108),
    }
    if YUNET.is_file():
        detectors["YuNet"] = FaceDetector("yunet", YUNET)
        detectors["YuNet 320 px"] = FaceDetector("yunet", YUNET, max_side=320)
    else:
        print(f"YuNet skipped: model file {YUNET} is absent")
    for name, detector in detectors.items():
        runs[f"PyAV, {name}"] = lambda d=detector: process_video(video, out_dir / "after", n=n, detector=d)
    print(f"{'pipeline':<38}{'frames/s':>9}{'frames/CPU s':>13}{'x before':>9}   max px moved vs before / full search")
    boxes_of, before_cpu = {}, None
    for name, run in runs.items():
        wall, cpu = best_of(repeats, run)
        records = run()
        boxes = old if name.startswith("before") else [(r.x, r.y, r.size) if r.crop_path else None for r in records]
        boxes_of[name], before_cpu = boxes, before_cpu or cpu
        moved = [moved_px(old, boxes)]
        if "two-stage" in name:  # against the full search with the same settings
            moved.append(moved_px(boxes_of[name.replace("two-stage", "full search")], boxes))
        found = sum(b is not None for b in boxes)
        print(
            f"{name:<38}{n / wall:9.1f}{n / cpu:13.1f}{before_cpu / cpu:8.1f}x   "
            f"{' / '.join(moved)} ({found}/{n} found)"
        )
    for name, detector in detectors.items():
        if detector.name == "haar" and detector.haar.two_stage:
            searches = detector.haar
            print(f"{name}: the full search ran for {searches.full_searches} of {searches.searches} frames")


def moved_px(reference: list, boxes: list) -> str:
    """The largest distance in pixels between two runs' boxes, and how many faces one found that the other did not."""
    moved = [max(abs(a - b) for a, b in zip(p, q)) for p, q in zip(reference, boxes) if p and q]
    differ = sum((p is None) != (q is None) for p, q in zip(reference, boxes))
    return f"{max(moved, default=0)}" + (f" ({differ} found/missed differently)" if differ else "")


def shrunk(frame: np.ndarray, factor: float) -> np.ndarray:
    """The frame scaled by ``factor`` in the top-left corner of a canvas of its size (edges repeated): smaller faces."""
    small = cv2.resize(frame, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    bottom, right = frame.shape[0] - small.shape[0], frame.shape[1] - small.shape[1]
    return cv2.copyMakeBorder(small, 0, bottom, 0, right, cv2.BORDER_REPLICATE)


def two_stage_on_samples(folder: Path, n: int, factor: float = 1.0) -> None:
    """Haar's full and two-stage search on the sampled frames of every clip in ``folder``: time, boxes, fallbacks.

    ``factor`` < 1 shrinks the frames first, for smaller faces.
    """
    clips = sorted(folder.rglob("*.mp4"))
    frames = [shrunk(s.image, factor) for clip in clips for s in read_samples(clip, n) if s.image is not None]
    full, two_stage = FaceDetector("haar", haar_two_stage=False), FaceDetector("haar")
    boxes, cpu = {}, {}
    for name, detector in (("full", full), ("two-stage", two_stage)):
        start = time.process_time()
        boxes[name] = [detector(frame) for frame in frames]
        cpu[name] = 1e3 * (time.process_time() - start) / len(frames)
    pairs = list(zip(boxes["full"], boxes["two-stage"]))
    moved = max((max(abs(a - b) for a, b in zip(p, q)) for p, q in pairs if p and q), default=0.0)
    differ = sum((p is None) != (q is None) for p, q in pairs)
    print(
        f"Haar on {len(frames)} sampled frames of {folder.name} x {factor}: full search {cpu['full']:.1f} ms, "
        f"two-stage "
        f"{cpu['two-stage']:.1f} ms per frame (CPU); boxes moved at most {moved:.1f} px, {differ} found differently; "
        f"the full search ran for {two_stage.haar.full_searches} of {two_stage.haar.searches} frames"
    )


def decoder_threads(video: Path, n: int, repeats: int) -> None:
    """CPU and wall time per sample of the reader's decoding (unsampled non-reference frames skipped), by threads."""
    with av.open(str(video)) as container:
        times = sorted(packet.pts for packet in container.demux(container.streams.video[0]) if packet.size)
    sampled = {times[i] for i in sample_frame_indices(len(times), n)}

    def decode(threads: dict) -> None:
        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            for key, value in threads.items():
                setattr(stream, key, value)
            for packet in container.demux(stream):
                stream.codec_context.skip_frame = "DEFAULT" if packet.pts in sampled else "NONREF"
                for frame in packet.decode():
                    if frame.pts in sampled:
                        frame.to_ndarray(format="bgr24")

    for name, threads in (("frame and slice threads", {"thread_type": "AUTO"}), ("one thread", {"thread_count": 1})):
        wall, cpu = best_of(repeats, lambda t=threads: decode(t))
        print(f"decoding {n} samples, {name}: {1e3 * cpu / n:.1f} ms CPU, {1e3 * wall / n:.1f} ms wall per sample")


def every_frame_fps(video: Path, limit: int) -> float:
    """Frames per second of decode + detect + crop when every frame is processed."""
    detector = FaceDetector()
    capture = cv2.VideoCapture(str(video))
    count, start = 0, time.perf_counter()
    while count < limit and (frame := capture.read())[0]:
        face = detector(frame[1])
        if face is not None:
            x, y, size = square_box(face, frame[1].shape[1], frame[1].shape[0])
            np.ascontiguousarray(frame[1][y : y + size, x : x + size])
        count += 1
    capture.release()
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=20, help="frames sampled per video (paper: 20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = args.video or (SHARED_CLIP if SHARED_CLIP.is_file() else synthetic_clip(tmp / "synthetic_1080p.mp4"))
        capture = cv2.VideoCapture(str(video))
        size = f"{int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
        codec = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode(errors="replace")
        capture.release()
        count, read_fps, grab_fps = decode_rates(video, args.repeats)
        print(
            f"clip: {video.name}  {size}  {codec}  {count} frames  cv2 {cv2.__version__}  threads {cv2.getNumThreads()}"
        )
        print(f"full decode (read): {read_fps:7.1f} fps    decode only (grab): {grab_fps:7.1f} fps\n")

        decoder_threads(video, args.n, args.repeats)
        compare(video, args.n, args.repeats, tmp)
        if SAMPLES.is_dir():
            for factor in (1.0, 0.75, 0.6):
                two_stage_on_samples(SAMPLES, args.n, factor)
        print()
        stages = stage_times(video, args.n, tmp / "crops")
        pipeline = ("decode", "detect", "crop", "write")
        total = sum(sum(stages[k]) for k in pipeline)
        print(f"where the time goes, {args.n} sampled frames (decode includes grabbing the frames between samples)")
        print(f"{'stage':<18}{'ms/sample':>10}{'share':>8}")
        for name, times in stages.items():
            share = f"{100 * sum(times) / total:7.1f}%" if name in pipeline else "   (alt)"
            print(f"{name:<18}{1e3 * statistics.fmean(times) if times else float('nan'):10.1f}{share}")
        wall, cpu = best_of(args.repeats, lambda: process_video(video, tmp / "e2e", n=args.n))
        print(
            f"process_video, n={args.n}: {wall:.2f} s per video ({cpu:.2f} s CPU) = "
            f"{args.n / wall:.1f} sampled frames/s"
        )
        print(f"every frame decode+detect+crop: {every_frame_fps(video, limit=300):.1f} fps\n")

        print("reading n samples: seconds wall (CPU)")
        print(f"{'n':>4}{'gap':>7}{'sequential':>18}{'seek':>18}{'faster':>12}")
        for n in (1, 2, 3, 5, 10, 20, 50):
            if n > count:
                continue
            seq, seek = (
                best_of(args.repeats, lambda m=m, n=n: list(read_samples(video, n, m))) for m in ("sequential", "seek")
            )
            print(
                f"{n:4d}{count / n:7.0f}{seq[0]:10.3f} ({seq[1]:5.2f}){seek[0]:10.3f} ({seek[1]:5.2f})"
                f"{'sequential' if seq[0] < seek[0] else 'seek':>12}"
            )


if __name__ == "__main__":
    main()
