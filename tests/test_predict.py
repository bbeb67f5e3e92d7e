"""Stored models and `unmask predict`: the same scores as the pipeline, clear refusals."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import unmask_with_its_reader_gone
from test_video import make_video

from unmask.learn.model_file import ModelFileError, load_model

CLASSIFIERS = ("svm", "logreg", "kmeans")


@pytest.fixture
def demo_models(demo_run):
    """The small demo's workflow run, which stores a model per classifier."""
    return demo_run[0]


def unmask(*args):
    return subprocess.run([sys.executable, "-m", "unmask", *args], capture_output=True, text=True)


def scored(stdout: str) -> list[str]:
    """The paths of the inputs that got a score (the others have an error line)."""
    return [answer["path"] for answer in map(json.loads, stdout.splitlines()) if "error" not in answer]


def failures(stdout: str) -> dict[str, str]:
    """Each failed input's path and error."""
    return {answer["path"]: answer["error"] for answer in map(json.loads, stdout.splitlines()) if "error" in answer}


@pytest.mark.workflow  # the demo run
@pytest.mark.parametrize("name", CLASSIFIERS)
def test_predict_gives_the_pipeline_scores(demo_models, name):
    model_path = demo_models / f"results/demo/models/{name}.json"
    model = load_model(model_path)
    shard = pd.read_parquet(demo_models / "results/demo/features/faces_hq/shard-0.parquet")
    manifest = pd.read_parquet(demo_models / "results/demo/manifest.parquet").set_index("id")
    paths = [str(demo_models / manifest.loc[item, "path"]) for item in shard["id"]]
    result = unmask("predict", "--model", str(model_path), *paths)
    assert result.returncode == 0, result.stderr
    predicted = [json.loads(line) for line in result.stdout.splitlines()]
    expected = model.p_fake(np.stack(shard["features"]))
    np.testing.assert_allclose([p["p_fake"] for p in predicted], expected, rtol=0, atol=1e-12)
    assert [p["path"] for p in predicted] == paths
    assert all((p["label"] == "fake") == (p["p_fake"] >= model.threshold) for p in predicted), "label follows p_fake"
    assert all(p["in_domain"] for p in predicted), "the model job records the demo's domain: 128 px JPEGs and PNGs"
    accuracy = np.mean([p["label"] == ("fake" if y else "real") for p, y in zip(predicted, shard["label"])])
    assert accuracy > 0.6


@pytest.mark.workflow  # the demo run
def test_calibration_report(demo_models):
    curve = pd.read_csv(demo_models / "results/demo/models/logreg.calibration.csv")
    assert list(curve.columns) == ["bin_low", "bin_high", "mean_predicted", "fraction_fake", "count", "brier"]
    assert curve["count"].sum() == 64 and 0 <= curve["brier"].iloc[0] < 0.25


@pytest.mark.workflow  # the demo run
def test_predict_refuses_bad_input_and_folders_work(demo_models, tmp_path):
    model = str(demo_models / "results/demo/models/logreg.json")
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    (tmp_path / "fine.png").write_bytes((demo_models / "data/raw/demo/photo_png/photo_00000.png").read_bytes())
    result = unmask("predict", "--model", model, str(tmp_path))
    assert result.returncode == 1
    assert f"{tmp_path / 'broken.jpg'}: not a readable image" in result.stderr
    assert scored(result.stdout) == [str(tmp_path / "fine.png")]


@pytest.mark.workflow  # the demo run
def test_predict_video_reports_frames(demo_models, tmp_path):
    video = make_video(tmp_path / "clip.mp4", 20)
    model = str(demo_models / "results/demo/models/svm.json")  # of whole 128 px images: face crops are far outside
    refused = unmask("predict", "--model", model, "--frames", "4", str(video))
    assert "far outside the model's domain (" in failures(refused.stdout)[str(video)]
    assert "a face crop; trained on whole images (4 of 4 frames)" in failures(refused.stdout)[str(video)]
    result = unmask("predict", "--model", model, "--frames", "4", "--allow-out-of-domain", str(video))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["in_domain"] is False
    assert len(answer["frames"]) == 4 and 0 <= answer["p_fake"] <= 1 and answer["label"] in ("real", "fake")
    faceless = make_video(tmp_path / "empty.mp4", 8, face=False)
    result = unmask(
        "predict", "--model", str(demo_models / "results/demo/models/svm.json"), "--frames", "3", str(faceless)
    )
    assert result.returncode == 1
    assert "no face crop in 3 sampled frames (no face found (haar, min 64 px))" in result.stderr


@pytest.mark.workflow  # the demo run
def test_a_tampered_model_is_refused(demo_models, tmp_path):
    document = json.loads((demo_models / "results/demo/models/svm.json").read_text())
    document["feature_length"] = 722
    (tmp_path / "tampered.json").write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="tampered.json"):
        load_model(tmp_path / "tampered.json")
    result = unmask("predict", "--model", str(tmp_path / "tampered.json"), str(tmp_path))
    assert result.returncode == 2 and "tampered.json" in result.stderr


def save_toy_model(path, side=64):
    """A model file without the workflow: logistic regression on random celeba-length features, its domain
    ``side`` x ``side`` PNGs."""
    from unmask.features.spectrum import get_variant
    from unmask.learn.classifiers import from_sklearn, make_classifier
    from unmask.learn.domain import training_domain
    from unmask.learn.model_file import Provenance, save_model

    rng = np.random.default_rng(0)
    estimator = make_classifier({"kind": "logreg"}, seed=0)[0].fit(rng.normal(size=(20, 80)), np.repeat([0, 1], 10))
    provenance = Provenance.current("toy", n_train=20, seed=0)
    domain = training_domain([(side, side)], ["PNG"], [], False, get_variant("celeba"))
    save_model(path, dataclasses.replace(from_sklearn(estimator, "celeba", provenance), domain=domain))
    return path


@pytest.fixture
def toy_model(tmp_path):
    return save_toy_model(tmp_path / "model.json")


def test_predict_reports_each_hostile_file_and_scores_the_rest(toy_model, tmp_path):
    """A folder of hostile files around one good image."""
    import cv2
    from test_image_validation import CORPUS, zeros_png

    rng = np.random.default_rng(0)
    folder = tmp_path / "in"
    folder.mkdir()
    files = {
        "a_claims.png": zeros_png(40000, 40000, rows=1),  # raised cv2.error, and nothing after it was scored
        "b_zeros.png": zeros_png(20000, 20000, rows=20000),  # took 11.5 GB
        "c_zeroed.jpg": CORPUS["JPEG with 20% of its scan zeroed"][0],
        "d_fine.png": cv2.imencode(".png", rng.integers(0, 256, (64, 64), dtype=np.uint8))[1].tobytes(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    result = unmask("predict", "--model", str(toy_model), "--max-pixels", "100000000", str(folder))
    assert result.returncode == 1
    assert scored(result.stdout) == [str(folder / "d_fine.png")]
    assert result.stderr.splitlines() == [
        f"unmask predict: {folder}/a_claims.png: 40000x40000 = 1600 Mpx exceeds the limit of 100 Mpx (--max-pixels)",
        f"unmask predict: {folder}/b_zeros.png: 20000x20000 = 400 Mpx exceeds the limit of 100 Mpx (--max-pixels)",
        f"unmask predict: {folder}/c_zeroed.jpg: corrupt JPEG (Corrupt JPEG data: 184 extraneous bytes before marker"
        " 0xd9)",
    ]


def write_png(path, side=64, seed=0):
    import cv2

    pixels = np.random.default_rng(seed).integers(0, 256, (side, side), dtype=np.uint8)
    path.write_bytes(cv2.imencode(".png", pixels)[1].tobytes())
    return path


def test_a_folder_without_images_or_videos_is_reported(toy_model, tmp_path):
    empty, junk = tmp_path / "empty", tmp_path / "junk"
    empty.mkdir()
    junk.mkdir()
    for index in range(2000):
        (junk / f"notes-{index}.txt").write_text("not an image")
    fine = write_png(tmp_path / "fine.png")
    result = unmask("predict", "--model", str(toy_model), str(empty), str(junk), str(fine))
    assert result.returncode == 1
    assert scored(result.stdout) == [str(fine)]
    assert result.stderr.splitlines() == [
        f"unmask predict: {folder}: no image or video files (.jpg, .jpeg, .png, .mp4, .avi, .mov, .mkv) in it"
        for folder in (empty, junk)
    ]


def test_entries_a_folder_listing_skips_are_reported(toy_model, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write_png(folder / "fine.png")
    (folder / "broken.png").symlink_to(tmp_path / "gone.png")
    (folder / "self.jpg").symlink_to(folder / "self.jpg")
    (folder / "loop").symlink_to(folder)
    result = unmask("predict", "--model", str(toy_model), str(folder))
    assert result.returncode == 1
    assert scored(result.stdout) == [str(folder / "fine.png")]
    assert result.stderr.splitlines() == [
        f"unmask predict: {folder}/broken.png: broken symbolic link (target {tmp_path}/gone.png is missing)",
        f"unmask predict: {folder}/loop: symbolic link loop (links back to {folder}, which is listed already)",
        f"unmask predict: {folder}/self.jpg: symbolic link loop (the link resolves to itself)",
    ]


def test_output_to_a_closed_pipe_ends_quietly(toy_model, tmp_path):
    """As `unmask predict ... | head -1`: the reader is gone before the scores are written."""
    image = write_png(tmp_path / "fine.png")
    assert unmask_with_its_reader_gone("predict", "--model", str(toy_model), str(image)) == (1, "")


@pytest.mark.parametrize(
    "options,message",
    [
        (["--detector", "yunet"], "unmask predict: --detector yunet needs --detector-model, the YuNet .onnx file"),
        (
            ["--detector", "yunet", "--detector-model", "{image}"],
            "unmask predict: --detector-model {image}: OpenCV cannot load it as a YuNet model (",
        ),
    ],
)
def test_a_missing_or_foreign_detector_model_is_one_message(toy_model, tmp_path, options, message):
    image = write_png(tmp_path / "fine.png")
    options = [option.format(image=image) for option in options]
    result = unmask("predict", "--model", str(toy_model), "--faces", *options, str(image))
    assert result.returncode == 2
    assert message.format(image=image) in result.stderr and "Traceback" not in result.stderr


def test_a_huge_file_that_is_no_image_is_refused_from_its_header(toy_model, tmp_path):
    """An 8 GB file named .png (sparse: no disk used) was read whole: a MemoryError under a 2 GB cap."""
    import resource

    huge, huge_jpeg = tmp_path / "backup.png", tmp_path / "backup.jpg"
    with open(huge, "wb") as f:
        f.truncate(8 * 2**30)
    with open(huge_jpeg, "wb") as f:  # a JPEG's markers are walked in a window, not in an 8 GB mapping
        f.write(b"\xff\xd8")
        f.truncate(8 * 2**30)
    fine = write_png(tmp_path / "fine.png")
    cap = 2 * 2**30

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    command = [sys.executable, "-m", "unmask", "predict", "--model", str(toy_model), str(huge), str(huge_jpeg)]
    result = subprocess.run([*command, "/dev/zero", str(fine)], capture_output=True, text=True, preexec_fn=limit_memory)
    assert result.returncode == 1
    assert scored(result.stdout) == [str(fine)]
    assert result.stderr.splitlines() == [
        f"unmask predict: {huge}: not a readable image (no JPEG or PNG decoder accepts its header)",
        f"unmask predict: {huge_jpeg}: not a readable image (no JPEG or PNG decoder accepts its header)",
        "unmask predict: /dev/zero: not a regular file (a device or socket)",
    ]


def test_an_image_from_a_pipe_is_still_scored(toy_model, tmp_path):
    """`unmask predict <(curl ...)`: a pipe can be read once only, so its header is not read apart."""
    image = write_png(tmp_path / "fine.png")
    command = f'{sys.executable} -m unmask predict --model "{toy_model}" <(cat "{image}")'
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["path"].startswith("/dev/fd/")


def test_an_empty_path_is_refused_not_read_as_the_working_folder(toy_model, tmp_path, monkeypatch):
    """`unmask predict --model m.json "$EMPTY"` scored every image under the working folder."""
    write_png(tmp_path / "elsewhere.png")
    monkeypatch.chdir(tmp_path)
    result = unmask("predict", "--model", str(toy_model), "")
    assert result.returncode == 1
    assert failures(result.stdout) == {"": "'': an empty path"}
    assert result.stderr.splitlines() == ["unmask predict: '': an empty path"]


def test_a_video_over_max_pixels_is_refused_from_its_header_and_whole_image_warnings_are_for_images(
    toy_model, tmp_path
):
    """Videos are always face-cropped: the 'images are scored whole' warning concerns images only."""
    from unmask.learn.model_file import save_model

    toy = load_model(toy_model)
    model = tmp_path / "crops_model.json"
    save_model(model, dataclasses.replace(toy, provenance=dataclasses.replace(toy.provenance, face_crops=True)))
    video = make_video(tmp_path / "clip.mp4", 8)
    result = unmask("predict", "--model", str(model), "--frames", "2", "--max-pixels", "1000", str(video))
    assert result.returncode == 1
    assert "exceed the limit of 0.001 Mpx (--max-pixels)" in result.stderr
    assert "scored whole" not in result.stderr


def test_an_image_too_small_for_the_model_s_features_gets_the_workflow_s_reason(toy_model, tmp_path):
    tiny = write_png(tmp_path / "tiny.png", side=8)
    fine = write_png(tmp_path / "fine.png")
    result = unmask("predict", "--model", str(toy_model), str(tiny), str(fine))
    assert result.returncode == 1
    assert f"{tiny}: image of 8x8 pixels is too small for the celeba features" in result.stderr
    assert scored(result.stdout) == [str(fine)]
