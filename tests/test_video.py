"""Video sampling, face crops and video groups, on synthetic videos with a real face photo."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import av
import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from conftest import shared_data
from matplotlib import cbook

from benchmarks import bench_video
from unmask.data.crops import crop_videos, shard_videos
from unmask.data.faces import FaceDetector, square_box
from unmask.data.images import PixelLimit
from unmask.data.video import (
    actor_ids,
    choose_method,
    process_video,
    read_samples,
    sample_frame_indices,
    video_group,
)
from unmask.features.spectrum import features

WIDTH, HEIGHT, FPS = 480, 360, 25


def _face() -> np.ndarray:
    photo = cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    return cv2.resize(photo, (160, 188), interpolation=cv2.INTER_AREA)


def make_video(path: Path, frames: int, face: bool = True, fourcc: str = "mp4v") -> Path:
    """A video whose face moves around and whose top-left 16x16 block has brightness 4 x frame index."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), FPS, (WIDTH, HEIGHT))
    assert writer.isOpened(), f"this OpenCV build cannot write {fourcc}"
    photo = _face()
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    for i in range(frames):
        frame = np.repeat((((xx + yy + 3 * i) % 256) // 2).astype(np.uint8)[..., None], 3, axis=2)
        if face:
            x0, y0 = 40 + (4 * i) % 240, 60 + (2 * i) % 100
            frame[y0 : y0 + 188, x0 : x0 + 160] = photo
        frame[:16, :16] = 4 * i
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    good = make_video(d / "clip.mp4", 50)
    avi = make_video(d / "clip.avi", 50, fourcc="MJPG")
    truncated_avi = d / "truncated.avi"
    truncated_avi.write_bytes(avi.read_bytes()[: avi.stat().st_size // 2])
    truncated_mp4 = d / "truncated.mp4"
    truncated_mp4.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (d / "empty.mp4").touch()
    (d / "noise.mp4").write_bytes(np.random.default_rng(0).bytes(20000))
    return {
        "good": good,
        "avi": avi,
        "truncated_avi": truncated_avi,
        "truncated_mp4": truncated_mp4,
        "empty": d / "empty.mp4",
        "noise": d / "noise.mp4",
        "short": make_video(d / "short.mp4", 5),
        "faceless": make_video(d / "faceless.mp4", 12, face=False),
    }


def decode_all(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while (frame := capture.read())[0]:
        frames.append(frame[1])
    capture.release()
    return frames


def test_sample_indices_are_even_and_within_the_video():
    assert sample_frame_indices(100, 20) == list(range(2, 100, 5))
    idx = sample_frame_indices(845, 20)
    assert len(idx) == 20 and len(set(idx)) == 20 and 0 <= idx[0] and idx[-1] < 845
    assert max(np.diff(idx)) - min(np.diff(idx)) <= 1
    assert sample_frame_indices(7, 20) == list(range(7))
    assert sample_frame_indices(0, 20) == [] and sample_frame_indices(-1, 20) == []
    with pytest.raises(ValueError):
        sample_frame_indices(10, 0)
    assert choose_method(845, 20) == "sequential" and choose_method(20 * 1000, 20) == "seek"


@pytest.mark.parametrize("kind", ["good", "avi"])
def test_samples_are_the_requested_frames_with_timestamps(videos, kind):
    samples = list(read_samples(videos[kind], 10))
    assert [s.index for s in samples] == sample_frame_indices(50, 10)
    for s in samples:
        assert s.reason is None and s.image.shape == (HEIGHT, WIDTH, 3)
        assert abs(float(s.image[4:12, 4:12].mean()) - 4 * s.index) < 4  # it is really frame s.index
        assert s.timestamp_ms == pytest.approx(1000 * s.index / FPS, abs=1)
    seeked = list(read_samples(videos[kind], 10, method="seek"))
    assert [s.index for s in seeked] == [s.index for s in samples]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(samples, seeked))


def test_crops_are_square_native_pixels_of_the_frame(videos, tmp_path):
    records = process_video(videos["good"], tmp_path, n=8, margin=0.2)
    frames = decode_all(videos["good"])
    assert len(records) == 8 and all(r.reason is None for r in records)
    for r in records:
        crop = cv2.imread(r.crop_path, cv2.IMREAD_UNCHANGED)
        assert crop.shape == (r.size, r.size, 3)
        assert np.array_equal(crop, frames[r.frame_index][r.y : r.y + r.size, r.x : r.x + r.size])
        x0, y0 = 40 + (4 * r.frame_index) % 240, 60 + (2 * r.frame_index) % 100  # where the photo is
        assert x0 < r.x + r.size / 2 < x0 + 160 and y0 < r.y + r.size / 2 < y0 + 188 and r.size >= 60
        assert Path(r.crop_path).parent == tmp_path and Path(r.crop_path).suffix == ".png"
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temporaries


def test_square_box_shifts_inside_and_shrinks_never_resizes():
    assert square_box((100, 100, 50, 50), 640, 480, margin=0.5) == (75, 75, 100)
    assert square_box((0, 0, 50, 40), 640, 480, margin=0.5) == (0, 0, 100)  # shifted right/down
    assert square_box((600, 440, 40, 40), 640, 480, margin=0.5) == (560, 400, 80)  # shifted left/up
    assert square_box((10, 20, 200, 200), 300, 150, margin=0.25) == (35, 0, 150)  # shrunk to fit, centred
    with pytest.raises(ValueError):
        square_box((0, 0, 10, 10), 100, 100, margin=-0.1)


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("empty", "video file is empty (0 bytes): {path}"),
        ("noise", "cannot open video (unreadable or truncated file): {path}"),
        ("truncated_mp4", "cannot open video (unreadable or truncated file): {path}"),
    ],
)
def test_unreadable_videos_are_recorded_not_raised(videos, tmp_path, kind, expected):
    records = process_video(videos[kind], tmp_path, n=4)
    assert len(records) == 4
    assert {r.reason for r in records} == {expected.format(path=videos[kind])}
    assert all(r.crop_path is None and r.frame_index is None for r in records)


def test_missing_file_is_recorded(tmp_path):
    (record,) = process_video(tmp_path / "gone.mp4", tmp_path, n=1)
    assert record.reason == f"video file not found: {tmp_path / 'gone.mp4'}"


def test_video_ending_before_its_header_keeps_what_exists(videos, tmp_path):
    records = process_video(videos["truncated_avi"], tmp_path, n=10)
    assert [r.frame_index for r in records] == sample_frame_indices(50, 10)  # the header still claims 50
    decoded = [r for r in records if r.reason is None]
    ended = [r for r in records if r.reason is not None]
    assert decoded and ended and all(r.crop_path for r in decoded)
    assert max(r.frame_index for r in decoded) < min(r.frame_index for r in ended)
    assert all(r.reason.startswith("video ended after ") and "header claimed 50" in r.reason for r in ended)


def test_video_shorter_than_n(videos, tmp_path):
    records = process_video(videos["short"], tmp_path, n=8)
    assert [r.frame_index for r in records[:5]] == [0, 1, 2, 3, 4] and all(r.crop_path for r in records[:5])
    assert {r.reason for r in records[5:]} == {"video has only 5 frames, fewer than the 8 requested"}


def test_video_without_faces(videos, tmp_path):
    records = process_video(videos["faceless"], tmp_path, n=4)
    assert [r.frame_index for r in records] == sample_frame_indices(12, 4)
    assert {r.reason for r in records} == {"no face found (haar, min 64 px)"} and not list(tmp_path.iterdir())


def test_yunet_needs_an_existing_model_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="YuNet model file not found"):
        FaceDetector("yunet", tmp_path / "face_detection_yunet.onnx")


@pytest.mark.parametrize(
    "name, group, actors",
    [
        ("01_02__meeting_serious__YVGY8LOK.mp4", "01__meeting_serious", ("01", "02")),
        ("01__kitchen_pan.mp4", "01__kitchen_pan", ("01",)),
        ("06__outside_talking_still_laughing.mp4", "06__outside_talking_still_laughing", ("06",)),
        ("183.mp4", "183", ("183",)),
        ("a/b/183_253.mp4", "183", ("183", "253")),
        ("holiday.mp4", "holiday", ("holiday",)),
    ],
)
def test_video_group_and_actor_ids(name, group, actors):
    assert video_group(name) == group
    assert actor_ids(Path(name)) == actors


def test_real_faceforensics_clip(tmp_path):
    clip = shared_data("faceforensics_c40") / "original_sequences" / "youtube" / "c40" / "videos" / "183.mp4"
    records = process_video(clip, tmp_path, n=5)
    assert [r.frame_index for r in records] == sample_frame_indices(390, 5)
    found = [r for r in records if r.crop_path]
    assert len(found) >= 4
    for r in found:
        crop = cv2.imread(r.crop_path, cv2.IMREAD_GRAYSCALE)
        assert crop.shape == (r.size, r.size) and r.size >= 100
        assert features(crop, "dfd").shape == (300,)


@pytest.mark.parametrize("name", ["183.mp4", "253_183.mp4", "06__outside_talking_still_laughing.mp4"])
def test_faceforensics_crop_boxes_agree_with_todays_within_a_few_pixels(tmp_path, name):
    (clip,) = shared_data("faceforensics_c40").rglob(name)
    records = process_video(clip, tmp_path, n=6)
    today = bench_video.before(clip, 6, tmp_path / "before")  # OpenCV's decoder, Haar on a <= 640 px copy
    claimed = int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT))
    assert [r.frame_index for r in records] == sample_frame_indices(claimed, 6)
    assert sum(r.crop_path is not None for r in records) >= sum(b is not None for b in today), "as many faces as today"
    for record, box in zip(records, today):
        if box is not None:
            assert max(abs(a - b) for a, b in zip((record.x, record.y, record.size), box)) <= 3, (record, box)


def test_decoding_that_skips_unsampled_frames_gives_opencvs_frames():
    (clip,) = shared_data("faceforensics_c40").rglob("183_253.mp4")
    skipping, seeking = list(read_samples(clip, 4, method="sequential")), list(read_samples(clip, 4, method="seek"))
    assert [s.index for s in skipping] == [s.index for s in seeking] == sample_frame_indices(390, 4)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(skipping, seeking))
    assert [s.timestamp_ms for s in skipping] == pytest.approx([s.timestamp_ms for s in seeking], abs=1)


def test_yunet_holds_the_faceforensics_faces_as_well_as_haar(tmp_path):
    yunet_model = shared_data("..", "models", "face_detection_yunet.onnx")
    for clip in sorted(shared_data("faceforensics_c40").rglob("*.mp4")):
        haar = process_video(clip, tmp_path / "haar", n=4)
        yunet = process_video(clip, tmp_path / "yunet", n=4, detector=FaceDetector("yunet", yunet_model, max_side=320))
        assert sum(r.crop_path is not None for r in yunet) >= sum(r.crop_path is not None for r in haar)
        for a, b in zip(haar, yunet):
            if a.crop_path:
                width = max(0, min(a.x + a.size, b.x + b.size) - max(a.x, b.x))
                overlap = width * max(0, min(a.y + a.size, b.y + b.size) - max(a.y, b.y))
                assert overlap / (a.size**2 + b.size**2 - overlap) >= 0.5, (clip.name, a, b)


def test_videos_of_one_name_in_other_folders_keep_their_own_crops(tmp_path):
    root = tmp_path / "clips"
    for folder in ("a", "b"):
        (root / folder).mkdir(parents=True)
    make_video(root / "a" / "clip.mp4", 30)
    make_video(root / "b" / "clip.mp4", 40)
    make_video(root / "clip.avi", 36, fourcc="MJPG")
    faces = {"detector": "haar", "model": None, "min_face": 64, "detect_side": 640, "margin": 0.25}
    (videos,) = shard_videos({"s": {"videos": str(root)}}, shards=1, seed=0).values()
    table = crop_videos(videos, tmp_path / "crops", 3, faces).to_pylist()
    assert len(table) == 9 and len({row["crop"] for row in table}) == 9, "a crop per video and frame"
    for row in table:
        frame = decode_all(Path(row["path"]))[row["frame"]]
        box = frame[row["y"] : row["y"] + row["size"], row["x"] : row["x"] + row["size"]]
        assert np.array_equal(cv2.imread(row["crop"]), box), f"{row['crop']} is not a crop of {row['video']}"


def rotated_video(path: Path, frames: int) -> Path:
    """A landscape MPEG-4 whose face lies on its side, tagged to be shown turned 90 degrees (a phone held upright)."""
    face = cv2.rotate(_face(), cv2.ROTATE_90_COUNTERCLOCKWISE)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    for i in range(frames):
        frame = np.full((HEIGHT, WIDTH, 3), 100, np.uint8)
        frame[40 : 40 + face.shape[0], 60 + 4 * i : 60 + 4 * i + face.shape[1]] = face
        writer.write(frame)
    writer.release()
    identity, turned = (
        struct.pack(">9i", *m, 0, 0, 0x40000000)
        for m in ((1 << 16, 0, 0, 0, 1 << 16, 0), (0, 1 << 16, 0, -(1 << 16), 0, 0))
    )
    data = path.read_bytes()
    matrix = data.index(identity, data.index(b"tkhd"))  # the track's display matrix
    path.write_bytes(data[:matrix] + turned + data[matrix + len(turned) :])
    return path


@pytest.mark.parametrize("method", ["sequential", "seek"])
def test_a_rotated_video_is_read_upright_as_players_show_it(tmp_path, method):
    clip = rotated_video(tmp_path / "phone.mp4", 30)
    samples = list(read_samples(clip, 3, method))
    assert [s.image.shape for s in samples] == [(WIDTH, HEIGHT, 3)] * 3, "portrait, as shown"
    other = read_samples(clip, 3, {"seek": "sequential", "sequential": "seek"}[method])
    assert all(np.array_equal(a.image, b.image) for a, b in zip(samples, other)), "both readers turn it alike"
    records = process_video(clip, tmp_path / "crops", n=3, method=method)
    assert all(r.crop_path for r in records), [r.reason for r in records]


def test_a_video_over_the_pixel_limit_is_refused_from_its_header_before_decoding(videos, tmp_path, monkeypatch):
    monkeypatch.setattr(cv2.VideoCapture, "grab", lambda self: pytest.fail("a frame was decoded"))
    monkeypatch.setattr(av.Packet, "decode", lambda self: pytest.fail("a frame was decoded"))
    limit = PixelLimit(WIDTH * HEIGHT - 1, "datasets.clips.max_pixels")
    records = process_video(videos["good"], tmp_path, n=4, limit=limit)
    assert len(records) == 4 and all(r.crop_path is None and r.frame_index is None for r in records)
    assert {r.reason for r in records} == {
        f"video frames of 480x360 = 0.1728 Mpx exceed the limit of 0.172799 Mpx (datasets.clips.max_pixels): "
        f"{videos['good']}"
    }


@pytest.mark.parametrize("encoding", [".jpg", ".png"])
def test_an_image_named_like_a_video_is_refused(tmp_path, encoding):
    fake = tmp_path / "x.mp4"
    fake.write_bytes(cv2.imencode(encoding, _face())[1].tobytes())
    records = process_video(fake, tmp_path / "crops", n=3)
    assert all(r.crop_path is None and r.frame_index is None for r in records)
    (reason,) = {r.reason for r in records}
    assert reason == f"not a video: a single {encoding[1:].replace('jpg', 'jpeg')} image named like one: {fake}"


def faststart_h264(path: Path, frames: int, title: str | None = None) -> Path:
    """An H.264 MP4 of distinct noise frames with its index first (``movflags=faststart``), as streamed files are."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        if title:
            container.metadata["title"] = title
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8), format="bgr24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.mark.parametrize("method", ["sequential", "seek"])
def test_a_video_cut_after_its_index_gives_only_frames_it_holds(tmp_path, method):
    full = faststart_h264(tmp_path / "full.mp4", 40)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])  # the header still claims 40 frames
    frames = decode_all(full)
    samples = list(read_samples(cut, 8, method))
    assert [s.index for s in samples] == sample_frame_indices(40, 8)
    decoded = [s for s in samples if s.image is not None]
    assert 0 < len(decoded) < 8, "the first half is there, the second is not"
    for sample in decoded:
        assert np.array_equal(sample.image, frames[sample.index]), f"sample {sample.index} is another frame"


@pytest.mark.parametrize("method", ["sequential", "seek"])
def test_a_title_that_is_not_utf8_does_not_stop_the_reading(tmp_path, method):
    clip = faststart_h264(tmp_path / "latin1.mp4", 10, title="Caf\u00e9 \u00e9t\u00e9")
    data = clip.read_bytes()
    clip.write_bytes(data.replace("Caf\u00e9 \u00e9t\u00e9".encode(), "Caf\u00e9 \u00e9t\u00e9   ".encode("latin-1")))
    samples = list(read_samples(clip, 4, method))
    assert all(s.image is not None for s in samples), [s.reason for s in samples]


def test_a_frame_cut_short_by_the_end_of_the_file_is_not_a_sample(videos, tmp_path):
    whole = decode_all(videos["avi"])
    frame_bytes = videos["avi"].stat().st_size / len(whole)
    cut = tmp_path / "cut.avi"  # MJPEG: the file ends halfway into frame 21's JPEG
    cut.write_bytes(videos["avi"].read_bytes()[: round(21.5 * frame_bytes)])
    samples = list(read_samples(cut, 50, "sequential"))
    damaged = [s for s in samples if s.reason and s.reason.startswith("frame is damaged")]
    assert len(damaged) == 1, [(s.index, s.reason) for s in samples if s.reason]
    for sample in samples:
        if sample.image is not None:
            assert np.array_equal(sample.image, whole[sample.index]), f"frame {sample.index} is not the video's"


def zero_frames(path: Path) -> Path:
    """A well-formed video file whose video track holds no frame (H.264 in MP4, MJPEG in AVI)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mjpeg" if path.suffix == ".avi" else "libx264", rate=FPS)
        stream.width, stream.height = 160, 120
        stream.pix_fmt = "yuvj420p" if path.suffix == ".avi" else "yuv420p"
        container.start_encoding()
    return path


def audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=44100)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.mark.parametrize(
    "make, name, expected",
    [
        (zero_frames, "clip.mp4", "no video stream in the file: {path}"),  # FFmpeg drops an MP4 track without frames
        (zero_frames, "clip.avi", "no decodable frames in video: {path}"),
        (audio_only, "clip.mp4", "no video stream in the file: {path}"),
    ],
    ids=["zero-frames-mp4", "zero-frames-avi", "audio-only"],
)
def test_a_well_formed_file_without_frames_says_so(tmp_path, make, name, expected):
    clip = make(tmp_path / name)
    records = process_video(clip, tmp_path / "crops", n=3)
    assert {r.reason for r in records} == {expected.format(path=clip)}


def test_a_crops_shard_without_any_face_still_makes_its_folder(tmp_path):
    """The folder is the job's declared output: a shard whose videos give no crop must not fail the run."""
    from unmask.cli import main

    (tmp_path / "clips").mkdir()
    make_video(tmp_path / "clips" / "empty.mp4", 10, face=False)
    faces = {"detector": "haar", "model": None, "min_face": 64, "detect_side": 640, "margin": 0.25}
    spec = {
        "sources": {"s": {"videos": str(tmp_path / "clips")}},
        "seed": 0,
        "frames": 3,
        "faces": faces,
        "pixel_limit": {"pixels": 10**8, "setting": "datasets.d.max_pixels"},
    }
    crops, table = tmp_path / "crops" / "shard-0", tmp_path / "crops" / "shard-0.parquet"
    args = ["crops", "--spec", json.dumps(spec), "--shard", "0", "--shards", "1"]
    assert main([*args, "--crops-dir", str(crops), "--out", str(table)]) == 0
    assert crops.is_dir() and not any(crops.rglob("*.png"))
    assert {row["reason"] for row in pq.read_table(table).to_pylist()} == {"no face found (haar, min 64 px)"}
