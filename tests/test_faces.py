"""Face crops of photos: scenes with a real face pasted into a face-free background, both detectors, the workflow."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import REPO, shared_data, snakemake, write_config
from sklearn.linear_model import LogisticRegression

from unmask.config import ConfigError, validate
from unmask.data.crops import crop_image, crop_name
from unmask.data.faces import FaceDetector
from unmask.data.video import read_samples
from unmask.learn.classifiers import from_sklearn
from unmask.learn.model_file import ModelFileError, Provenance, checksum, load_model, save_model

YUNET = REPO.parent / "shared" / "models" / "face_detection_yunet.onnx"
SCENE_HEIGHT, SCENE_WIDTH = 900, 1200


def make_detector(name: str, min_face: int = 64) -> FaceDetector:
    """The named detector; YuNet only where its model file (research-only, ../shared/models) is present."""
    if name == "yunet":
        if not YUNET.is_file():
            pytest.skip(f"YuNet model file {YUNET} is absent")
        return FaceDetector("yunet", YUNET, min_face)
    return FaceDetector("haar", min_face=min_face)


def background(rng: np.random.Generator, height: int = SCENE_HEIGHT, width: int = SCENE_WIDTH) -> np.ndarray:
    """A face-free colour scene: a random gradient with blurred noise."""
    yy, xx = np.mgrid[0:height, 0:width]
    gradient = (xx * rng.uniform(0.05, 0.2) + yy * rng.uniform(0.05, 0.2)) % 256
    noise = cv2.GaussianBlur(rng.normal(0, 20, (height, width)), (0, 0), 3)
    gray = np.clip(0.5 * gradient + 60 + noise, 0, 255).astype(np.uint8)
    tint = rng.uniform(0.8, 1.2, 3)
    return np.clip(gray[..., None] * tint, 0, 255).astype(np.uint8)


def make_scene(face: Path, path: Path, rng: np.random.Generator, side: int | None = None) -> tuple[int, int, int]:
    """Paste a face photo at a random place and scale into a background; write it to ``path``; return its square."""
    side = side or int(rng.integers(160, 400))
    photo = cv2.resize(cv2.imread(str(face)), (side, side), interpolation=cv2.INTER_AREA)
    scene = background(rng)
    x, y = int(rng.integers(0, SCENE_WIDTH - side)), int(rng.integers(0, SCENE_HEIGHT - side))
    scene[y : y + side, x : x + side] = photo
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), scene)
    return x, y, side


def iou(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """Intersection over union of two squares ``(x, y, side)``."""
    width = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    height = max(0, min(a[1] + a[2], b[1] + b[2]) - max(a[1], b[1]))
    return width * height / (a[2] ** 2 + b[2] ** 2 - width * height)


def faces(kind: str, count: int) -> list[Path]:
    return sorted(shared_data("faces256", kind).glob("*.jpg"))[:count]


@pytest.mark.parametrize("name", ["haar", "yunet"])
@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_scene_crop_holds_the_pasted_face_in_the_scene_pixels(tmp_path, name, suffix):
    detector, rng = make_detector(name), np.random.default_rng(7)
    for k, face in enumerate(faces("real", 2) + faces("fake", 2)):
        scene = tmp_path / f"scene{k}{suffix}"
        pasted = make_scene(face, scene, rng)
        row = crop_image({"source": "s", "image": scene.name, "path": str(scene)}, tmp_path / "crops", detector, 0.25)
        assert row.get("reason") is None, f"{face.name} at {pasted}: {row['reason']}"
        box = (row["x"], row["y"], row["size"])
        assert iou(box, pasted) >= 0.5, f"{face.name}: crop {box} vs pasted {pasted}"
        assert row["crop"] == str(tmp_path / "crops" / "s" / crop_name(f"s/{scene.name}")) and row["detector"] == name
        crop = cv2.imread(row["crop"], cv2.IMREAD_UNCHANGED)
        x, y, size = box
        assert np.array_equal(crop, cv2.imread(str(scene))[y : y + size, x : x + size]), "the scene's own pixels"


@pytest.mark.parametrize("name", ["haar", "yunet"])
def test_a_face_free_background_is_rejected_with_its_reason(tmp_path, name):
    detector = make_detector(name)
    for seed in range(3):
        path = tmp_path / f"background{seed}.png"
        cv2.imwrite(str(path), background(np.random.default_rng(seed)))
        row = crop_image({"source": "s", "image": path.name, "path": str(path)}, tmp_path / "crops", detector, 0.25)
        assert row["reason"] == f"no face found ({name}, min 64 px)" and "crop" not in row
    assert not (tmp_path / "crops").exists()


def test_a_face_too_small_for_a_spectrum_is_rejected(tmp_path):
    (face,) = faces("real", 1)
    scene = tmp_path / "small.png"
    make_scene(face, scene, np.random.default_rng(1), side=200)
    image = {"source": "s", "image": scene.name, "path": str(scene)}
    assert crop_image(image, tmp_path / "crops", make_detector("haar", min_face=64), 0.25).get("reason") is None
    row = crop_image(image, tmp_path / "crops", make_detector("haar", min_face=300), 0.25)
    assert row["reason"] == "no face found (haar, min 300 px)"


def test_an_unreadable_image_is_a_row_with_its_reason(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    image = {"source": "s", "image": "broken.jpg", "path": str(tmp_path / "broken.jpg")}
    row = crop_image(image, tmp_path, make_detector("haar"), 0.25)
    assert row["reason"] == "not a readable image (no JPEG or PNG decoder accepts its header)"


def test_old_video_face_keys_move_to_faces_with_a_message(capsys):
    sources = {"a": {"label": "real", "videos": "a"}, "b": {"label": "fake", "videos": "b"}}
    config = {
        "default_datasets": ["clips"],
        "datasets": {
            "clips": {"variant": "dfd", "video": {"margin": 0.4, "yunet_model": "yunet.onnx"}, "sources": sources}
        },
    }
    faces_settings = validate(config)["datasets"]["clips"]["faces"]
    settings = (faces_settings["margin"], faces_settings["detector"], faces_settings["model"])
    assert settings == (0.4, "yunet", "yunet.onnx")
    message = capsys.readouterr().err
    assert "datasets.clips.video.margin is now datasets.clips.faces.margin" in message
    assert "datasets.clips.video.yunet_model is now datasets.clips.faces.model" in message
    config["datasets"]["clips"]["faces"] = {"margin": 0.3}
    with pytest.raises(ConfigError, match="video.margin: moved to faces.margin, which is also given"):
        validate(config)
    with pytest.raises(ConfigError, match="faces.model"):
        validate(
            {"default_datasets": ["clips"], "datasets": {"clips": {"faces": {"detector": "yunet"}, "sources": sources}}}
        )


def test_a_model_file_records_face_crops(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 80)), np.repeat([0, 1], 20)
    provenance = dataclasses.replace(Provenance.current("scenes", 40, 0), face_crops=True)
    save_model(tmp_path / "m.json", from_sklearn(LogisticRegression().fit(X, y), "celeba", provenance))
    assert load_model(tmp_path / "m.json").provenance.face_crops is True
    document = json.loads((tmp_path / "m.json").read_text())
    document["provenance"]["face_crops"] = "yes"
    (tmp_path / "bad.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="provenance.face_crops': expected boolean"):
        load_model(tmp_path / "bad.json")


def full_search_box(image: np.ndarray, min_face: int = 64) -> tuple[float, float, float, float] | None:
    """Today's Haar box, computed here: OpenCV's full search over the <= 640 px grayscale copy, the largest face."""
    scale = min(1.0, 640 / max(image.shape[:2]))
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA) if scale < 1 else image
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    smallest = max(24, round(min_face * scale))
    faces = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml").detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(smallest, smallest)
    )
    if len(faces) == 0 or faces[:, 2].max() / scale < min_face:
        return None
    return tuple(float(v) / scale for v in faces[np.argmax(faces[:, 2] * faces[:, 3])])


def assert_todays_boxes(images: list[np.ndarray], detector: FaceDetector, min_face: int = 64) -> int:
    """The detector finds a face where the full search does, within 4 px of it; returns how many faces."""
    found = 0
    for k, image in enumerate(images):
        expected, box = full_search_box(image, min_face), detector(image)
        assert (box is None) == (expected is None), f"image {k}: {box} vs the full search's {expected}"
        if box is not None:
            assert max(abs(a - b) for a, b in zip(box, expected)) <= 4, f"image {k}: {box} vs {expected}"
            found += 1
    return found


@pytest.fixture(scope="module")
def faceforensics_frames() -> list[np.ndarray]:
    """The 20 sampled frames of every FaceForensics++ clip in ../shared/data (720p and 1080p)."""
    clips = sorted(shared_data("faceforensics_c40").rglob("*.mp4"))
    return [sample.image for clip in clips for sample in read_samples(clip, 20) if sample.image is not None]


def test_two_stage_haar_places_todays_boxes_on_every_faceforensics_frame(faceforensics_frames):
    detector = FaceDetector("haar")
    assert len(faceforensics_frames) == 100
    assert assert_todays_boxes(faceforensics_frames, detector) >= 95
    assert detector.haar.searches == 100
    assert detector.haar.full_searches <= 5, "the coarse search placed (almost) every box"


def test_two_stage_haar_places_todays_boxes_on_photos(tmp_path):
    rng = np.random.default_rng(11)
    scenes = []
    for k, face in enumerate(faces("real", 8) + faces("fake", 8)):
        make_scene(face, tmp_path / f"scene{k}.png", rng)
        scenes.append(cv2.imread(str(tmp_path / f"scene{k}.png")))
    large = [cv2.imread(str(p)) for p in sorted(shared_data("faces1024").rglob("*.*g"))]
    detector = FaceDetector("haar")
    assert assert_todays_boxes(scenes + large, detector) >= 30
    full_searches = detector.haar.full_searches
    assert full_searches <= 4
    backgrounds = [background(np.random.default_rng(seed)) for seed in range(3)]
    assert assert_todays_boxes(backgrounds, detector) == 0
    assert detector.haar.full_searches == full_searches + 3, "no face: the full search has the last word"


def small_face_scene(tmp_path: Path, side: int) -> tuple[np.ndarray, np.ndarray]:
    """A 1200x900 scene with one face of ``side`` pixels, and its 640 px grayscale detection copy."""
    make_scene(faces("real", 2)[1], tmp_path / "small.png", np.random.default_rng(1), side=side)
    scene = cv2.imread(str(tmp_path / "small.png"))
    return scene, cv2.resize(cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY), (640, 480), interpolation=cv2.INTER_AREA)


def test_a_face_too_small_for_the_240_px_coarse_copy_is_found_in_the_360_px_one(tmp_path):
    scene, copy = small_face_scene(tmp_path, side=110)  # 22 px in the 240 px copy, 33 px in the 360 px one
    detector = FaceDetector("haar", min_face=32)
    assert detector.haar.candidate_regions(copy, 24, 240) == [] and detector.haar.candidate_regions(copy, 24, 360)
    assert assert_todays_boxes([scene], detector, min_face=32) == 1
    assert (detector.haar.searches, detector.haar.full_searches) == (1, 0)


def test_a_face_the_coarse_search_cannot_see_is_found_by_the_full_search(tmp_path):
    scene, copy = small_face_scene(tmp_path, side=70)  # 14 and 21 px in the coarse copies: under Haar's 24
    detector = FaceDetector("haar", min_face=32)
    assert [detector.haar.candidate_regions(copy, 24, side) for side in (240, 360)] == [[], []]
    assert assert_todays_boxes([scene], detector, min_face=32) == 1
    assert (detector.haar.searches, detector.haar.full_searches) == (1, 1)


def test_a_thin_image_has_no_face_and_no_error():
    detector = FaceDetector("haar")
    for shape in [(1, 640), (2, 1000), (640, 1), (30, 640)]:
        assert detector(np.full(shape, 128, np.uint8)) is None, shape


def test_the_regions_of_the_two_stage_search_give_the_full_searchs_windows(faceforensics_frames):
    search = FaceDetector("haar").haar
    for frame in faceforensics_frames[::25]:
        gray = cv2.cvtColor(cv2.resize(frame, (640, 360), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        whole = [(0, 0, 640, 360, 0.0)]
        for smallest in (24, 40):
            everywhere = np.array(search.search_regions(gray, smallest, whole)).tolist()
            assert everywhere == np.array(search.full(gray, smallest)).tolist()


def unmask(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "unmask", *args], capture_output=True, text=True)


@pytest.mark.workflow
def test_scene_dataset_through_the_workflow_and_predict_faces(tmp_path):
    rng = np.random.default_rng(3)
    data = tmp_path / "data"
    for kind in ("real", "fake"):
        for face in faces(kind, 6):
            make_scene(face, data / kind / f"{face.stem}.png", rng)
    cv2.imwrite(str(data / "real" / "zz_background.png"), background(rng))
    config = {
        "default_datasets": ["scenes"],
        "datasets": {
            "scenes": {
                "spectrum_length": 64,
                "sizes": [8],
                "repeats": 2,
                "shards": 2,
                "faces": {"crop": True},
                "classifiers": {"logreg": {"kind": "logreg"}},
                "sources": {kind: {"label": kind, "path": str(data / kind)} for kind in ("real", "fake")},
            }
        },
    }
    workdir = tmp_path / "run"
    workdir.mkdir()
    targets = [
        "results/scenes_table.csv",
        "results/scenes/rejects.csv",
        "results/scenes/models/logreg.json",
        "results/scenes/figures/crops.png",
    ]
    config_file = write_config(tmp_path / "scenes.yaml", config)
    snakemake(workdir, *targets, "--configfile", str(config_file), snakefile=REPO / "Snakefile")

    assert pd.read_csv(workdir / "results/scenes_table.csv")["samples"].tolist() == [8]
    assert (workdir / "results/scenes/figures/crops.png").stat().st_size > 0
    rejects = pd.read_csv(workdir / "results/scenes/rejects.csv")
    background_row = rejects[rejects["id"] == "real/zz_background.png"]
    assert background_row[["stage", "reason"]].values.tolist() == [["crops", "no face found (haar, min 64 px)"]]

    manifest = pd.read_parquet(workdir / "results/scenes/manifest.parquet").set_index("id")
    assert len(manifest) == 12 and (manifest["detector"] == "haar").all()
    item = manifest.loc["real/" + faces("real", 1)[0].stem + ".png"]
    assert item["original"] == str(data / "real" / (faces("real", 1)[0].stem + ".png"))
    crop = workdir / item["path"]
    assert crop.is_relative_to(workdir / "results/scenes/crops") and crop.suffix == ".png"
    assert item["width"] == item["height"] == item["crop_size"]

    features = pd.concat(pd.read_parquet(p) for p in (workdir / "results/scenes/features").rglob("shard-*.parquet"))
    row = features.set_index("id").loc[item.name]
    spectrum = unmask("spectrum", str(crop), "--variant", "faces_hq", "--length", "64", "--no-header")
    assert spectrum.returncode == 0, spectrum.stderr
    np.testing.assert_array_equal(row["features"], [float(v) for v in spectrum.stdout.strip().split(",")[1:]])

    model = workdir / "results/scenes/models/logreg.json"
    assert json.loads(model.read_text())["provenance"]["face_crops"] is True
    predicted = unmask("predict", "--model", str(model), "--faces", item["original"])
    assert predicted.returncode == 0, predicted.stderr
    answer = json.loads(predicted.stdout)
    assert answer["crop"] == {"x": item["crop_x"], "y": item["crop_y"], "size": item["crop_size"], "detector": "haar"}
    expected = load_model(model).p_fake(np.asarray(row["features"])[None, :])[0]
    assert answer["p_fake"] == pytest.approx(expected, abs=1e-12)
    whole = unmask("predict", "--model", str(model), item["original"])
    assert whole.returncode == 0 and "was trained on face crops, but images are scored whole" in whole.stderr

    document = json.loads(model.read_text())
    document["provenance"]["face_crops"] = False  # as a model of whole images would say
    (tmp_path / "whole.json").write_text(json.dumps({**document, "checksum": checksum(document)}))
    cropped = unmask("predict", "--model", str(tmp_path / "whole.json"), "--faces", item["original"])
    assert cropped.returncode == 0 and "was trained on whole images, but images are face-cropped" in cropped.stderr
    del document["provenance"]["face_crops"]  # model files written before the field: nothing recorded, no warning
    (tmp_path / "older.json").write_text(json.dumps({**document, "checksum": checksum(document)}))
    assert load_model(tmp_path / "older.json").provenance.face_crops is None
    older = unmask("predict", "--model", str(tmp_path / "older.json"), "--faces", item["original"])
    assert older.returncode == 0 and "warning" not in older.stderr


def test_crops_and_predict_faces_take_the_checked_decode(tmp_path):
    """A JPEG with 600 zeroed bytes in its scan was cropped (the crop path read only the header before OpenCV)."""
    from test_image_validation import CORPUS, middle_of, zeroed
    from test_predict import save_toy_model, unmask

    damaged = tmp_path / "damaged.jpg"
    base = CORPUS["baseline JPEG"][0]
    damaged.write_bytes(zeroed(base, middle_of(base), 600))
    row = crop_image(
        {"source": "s", "image": damaged.name, "path": str(damaged)}, tmp_path, make_detector("haar"), 0.25
    )
    assert row["reason"].startswith("corrupt JPEG (Corrupt JPEG data") and "crop" not in row
    result = unmask("predict", "--model", str(save_toy_model(tmp_path / "m.json")), "--faces", str(damaged))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"unmask predict: {damaged}: corrupt JPEG (Corrupt JPEG data")


def test_a_20000x8_strip_is_searched_not_an_opencv_assertion(tmp_path):
    """Before: cv2.error '(-215:Assertion failed) inv_scale_x > 0 in function resize' in the crops job."""
    from test_predict import save_toy_model, unmask

    strip = tmp_path / "strip.png"
    cv2.imwrite(str(strip), np.random.default_rng(0).integers(0, 256, (8, 20000), dtype=np.uint8))
    row = crop_image({"source": "s", "image": strip.name, "path": str(strip)}, tmp_path, make_detector("haar"), 0.25)
    assert row["reason"] == "no face found (haar, min 64 px)"
    result = unmask("predict", "--model", str(save_toy_model(tmp_path / "m.json")), "--faces", str(strip))
    assert result.stderr == f"unmask predict: {strip}: no face found (haar, min 64 px)\n"


def test_a_faces_model_that_is_a_text_file_is_one_line(tmp_path):
    """Before: a cv2.error traceback in the crops job."""
    from unmask.data.crops import make_detector as detector_of

    text = tmp_path / "yunet.onnx"
    text.write_text("not a model\n")
    faces = {"detector": "yunet", "model": str(text), "min_face": 64, "detect_side": 640, "margin": 0.25}
    with pytest.raises(ValueError, match=rf"^faces\.model {text}: OpenCV cannot load it as a YuNet model \(.+\)$"):
        detector_of(faces)


def test_a_244_byte_image_name_gets_its_crop(tmp_path):
    """Before: [Errno 36] File name too long (the temporary '.<name>.png.XXXXXXXX.tmp' passes 255 bytes)."""
    (face,) = faces("real", 1)
    scene = tmp_path / ("n" * 240 + ".png")
    make_scene(face, scene, np.random.default_rng(1), side=300)
    row = crop_image(
        {"source": "s", "image": scene.name, "path": str(scene)}, tmp_path / "crops", make_detector("haar"), 0.25
    )
    assert row.get("reason") is None and Path(row["crop"]).is_file() and len(Path(row["crop"]).name) == 36
    assert row["image"] == scene.name and row["path"] == str(scene)  # the manifest keeps the original name


def test_predict_faces_prints_no_native_library_line(tmp_path):
    """Before: OpenCV's libjpeg printed 'Corrupt JPEG data: 5 extraneous bytes before marker 0xdb' to stderr."""
    from test_image_validation import CORPUS
    from test_predict import save_toy_model, unmask

    image = tmp_path / "junk.jpg"
    image.write_bytes(CORPUS["JPEG with junk bytes before DQT"][0])
    result = unmask("predict", "--model", str(save_toy_model(tmp_path / "m.json")), "--faces", str(image))
    assert result.stderr == f"unmask predict: {image}: no face found (haar, min 64 px)\n"
