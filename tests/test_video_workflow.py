"""Video datasets through the workflow: frames -> face crops -> features -> frame and video verdicts."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import REPO, shared_data, snakemake, write_config
from test_video import FPS, HEIGHT, WIDTH, decode_all, make_video

from unmask.data.acquire.demo import upsample_transposed

FRAMES = 6

pytestmark = pytest.mark.workflow  # every test here runs Snakemake


def make_fake(original, path):
    """The original's frames through a generator-style up-sampler: a stand-in for a face swap."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    for frame in decode_all(original):
        small = cv2.resize(frame, (WIDTH // 2, HEIGHT // 2), interpolation=cv2.INTER_AREA)
        writer.write(np.clip(upsample_transposed(small), 0, 255).astype(np.uint8))
    writer.release()


def video_config(real, fake, **video):
    return {
        "default_datasets": ["clips"],
        "datasets": {
            "clips": {
                "variant": "dfd",
                "sizes": [24],
                "repeats": 2,
                "shards": 2,
                "video": {"frames": FRAMES, **video},
                "robustness": {"repeats": 2, "perturbations": ["jpeg:50"]},
                "sources": {
                    "actors": {"label": "real", "videos": str(real)},
                    "swaps": {"label": "fake", "videos": str(fake)},
                },
            }
        },
    }


def test_synthetic_videos_end_to_end(tmp_path):
    real, fake = tmp_path / "real", tmp_path / "fake"
    real.mkdir()
    fake.mkdir()
    scenes = {"01": "kitchen", "02": "walk", "03": "talk"}
    for length, (actor, scene) in zip((30, 34, 38), scenes.items()):
        make_video(real / f"{actor}__{scene}.mp4", length)  # other lengths sample other frames
    for (target, scene), source in zip(scenes.items(), ("02", "03", "01")):
        make_fake(real / f"{target}__{scene}.mp4", fake / f"{target}_{source}__{scene}__X{target}.mp4")
    make_video(real / "00__empty_room.mp4", 12, face=False)
    (fake / "broken.mp4").write_bytes(b"")
    workdir = tmp_path / "run"
    workdir.mkdir()

    snakemake(
        workdir,
        "--configfile",
        str(write_config(tmp_path / "clips.yaml", video_config(real, fake))),
        snakefile=REPO / "Snakefile",
    )

    frames = pd.read_csv(workdir / "results/clips_frames_table.csv")
    videos = pd.read_csv(workdir / "results/clips_videos_table.csv")
    assert frames["samples"].tolist() == videos["samples"].tolist() == [24]
    assert {"svm", "svm_std", "svm_auc"} <= set(videos.columns)
    predictions = pd.concat(pd.read_parquet(p) for p in (workdir / "results/clips/runs").rglob("*.predictions.parquet"))
    for classifier in ("svm", "logreg", "kmeans"):  # a video's verdict: at least half its test frames called fake
        frames_of = predictions[predictions["classifier"] == classifier]
        votes = frames_of.groupby(["repeat", "video"]).agg(label=("label", "first"), fake=("predicted", "mean"))
        correct = ((votes["fake"] >= 0.5).astype(int) == votes["label"]).groupby("repeat").mean()
        assert videos[classifier].iloc[0] == pytest.approx(correct.mean(), abs=5e-7), classifier  # CSV: 6 digits

    manifest = pd.read_parquet(workdir / "results/clips/manifest.parquet")
    assert (manifest["width"] == manifest["height"]).all(), "face crops are square"
    assert manifest["video"].nunique() == 6 and manifest.groupby("video").size().le(FRAMES).all()
    groups = manifest.drop_duplicates("video").set_index("video")["group"]
    assert groups["01_02__kitchen__X01.mp4"] == groups["01__kitchen.mp4"] == "01__kitchen", (
        "a fake shares its original's group"
    )

    rejects = pd.read_csv(workdir / "results/clips/rejects.csv")
    assert set(rejects["stage"]) <= {"crops", "manifest"}  # the synthetic clips repeat some frames exactly
    empty_room = rejects["id"].str.startswith("actors/00__empty_room.mp4")
    assert set(rejects.loc[empty_room, "reason"]) == {"no face found (haar, min 64 px)"}
    broken = rejects[rejects["id"].str.startswith("swaps/broken.mp4")]
    assert len(broken) == 1 and broken["reason"].iloc[0].startswith("video file is empty (0 bytes)")
    for figure in ("frames_accuracy.png", "crops.png", "spectra.png"):
        assert (workdir / "results/clips/figures" / figure).stat().st_size > 0

    assert predictions["video"].notna().all() and set(predictions["classifier"]) == {"svm", "logreg", "kmeans"}


def test_faceforensics_clips_end_to_end(tmp_path):
    """Two YouTube originals and their Deepfakes manipulations, c40 (research sample data)."""
    root = shared_data("faceforensics_c40")
    config = video_config(
        root / "original_sequences/youtube/{compression}/videos",
        root / "manipulated_sequences/Deepfakes/{compression}/videos",
    )
    config["datasets"]["clips"].update(compression="c40", sizes=[30, 16], video={"frames": 10})
    tables = ("results/clips_frames_table.csv", "results/clips_videos_table.csv")
    config_file = write_config(tmp_path / "ffpp.yaml", config)
    snakemake(tmp_path, *tables, "--configfile", str(config_file), snakefile=REPO / "Snakefile")
    frames = pd.read_csv(tmp_path / "results/clips_frames_table.csv")
    assert frames["samples"].tolist() == [30, 16]
    manifest = pd.read_parquet(tmp_path / "results/clips/manifest.parquet")
    assert set(manifest["group"]) == {"183", "253"}, "183.mp4 and 183_253.mp4 are one group"
    assert len(manifest) >= 0.8 * 4 * 10, "faces are found in most frames"
    assert (
        pd.read_csv(tmp_path / "results/clips_videos_table.csv")[["svm", "logreg", "kmeans"]].stack().between(0, 1)
    ).all()
