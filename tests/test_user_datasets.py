"""A user's own dataset: folders of images named in a config file, bad files, and config mistakes."""

from __future__ import annotations

import hashlib
import re
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import REPO, planned_rules, shared_data, snakemake, write_config

from unmask.data.acquire.demo import make_image, photos


def write_images(folder, style, count, seed, suffix="jpg"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sources = photos()
    for index in range(count):
        cv2.imwrite(str(folder / f"{index:03d}.{suffix}"), make_image(sources[index % 3], style, 96, rng))


def user_config(root, **overrides):
    dataset = {
        "sizes": [20],
        "repeats": 2,
        "shards": 1,
        "robustness": {"repeats": 2, "perturbations": ["jpeg:50"]},
        "sources": {
            "cameras": {"label": "real", "path": str(root / "cameras")},
            "generator": {"label": "fake", "path": str(root / "generator")},
        },
        **overrides,
    }
    return {"default_datasets": ["mine"], "datasets": {"mine": dataset}}


@pytest.fixture
def user_folders(tmp_path):
    write_images(tmp_path / "cameras", "photo", 14, seed=1)
    write_images(tmp_path / "generator" / "nested", "transposed", 14, seed=2, suffix="png")
    return tmp_path


@pytest.mark.workflow
def test_user_dataset_with_bad_files_completes_and_lists_rejects(user_folders, tmp_path):
    cameras, generator = user_folders / "cameras", user_folders / "generator"
    (cameras / "empty.jpg").write_bytes(b"")
    (cameras / "garbage.png").write_bytes(b"this is not an image at all")
    whole = (cameras / "000.jpg").read_bytes()
    (cameras / "truncated.jpg").write_bytes(whole[: len(whole) // 2])
    shutil.copy(generator / "nested" / "000.png", generator / "copy_of_000.png")
    shutil.copy(cameras / "001.jpg", generator / "a_real_photo.jpg")  # the same bytes in a real and a fake source
    (cameras / "folder.jpg").mkdir()
    (cameras / "loop").symlink_to(cameras)
    write_images(tmp_path / "elsewhere", "photo", 2, seed=5)
    (cameras / "linked").symlink_to(tmp_path / "elsewhere")  # followed
    config = write_config(tmp_path / "mine.yaml", user_config(user_folders))
    workdir = tmp_path / "run"
    workdir.mkdir()

    snakemake(workdir, "--configfile", str(config), snakefile=REPO / "Snakefile")

    table = pd.read_csv(workdir / "results/mine_table.csv")
    assert table["samples"].tolist() == [20]
    rejects = pd.read_csv(workdir / "results/mine/rejects.csv").set_index("id")
    assert rejects.loc["cameras/empty.jpg", "reason"] == "empty file (0 bytes)"
    assert rejects.loc["cameras/garbage.png", "reason"].startswith("not a readable image")
    assert rejects.loc["cameras/truncated.jpg", "reason"] == "corrupt JPEG (Premature end of JPEG file)"
    assert rejects.loc["cameras/truncated.jpg", "stage"] == "features"
    assert rejects.loc["generator/nested/000.png", "reason"] == "same bytes as generator/copy_of_000.png"
    both = "same bytes in real source cameras and fake source generator (cameras/001.jpg, generator/a_real_photo.jpg)"
    assert rejects.loc["cameras/001.jpg", "reason"] == rejects.loc["generator/a_real_photo.jpg", "reason"] == both
    assert rejects.loc["cameras/folder.jpg", "reason"] == "a folder, not a file (its contents are searched)"
    assert rejects.loc["cameras/loop", "reason"].startswith("symbolic link loop")
    assert len(rejects) == 8

    manifest = pd.read_parquet(workdir / "results/mine/manifest.parquet")
    assert {"cameras/linked/000.jpg", "cameras/linked/001.jpg"} <= set(manifest["id"])
    warnings = (workdir / "results/mine/format_audit_warnings.txt").read_text()
    assert "real sources (cameras) are JPEG (q~95) but fake sources (generator) are PNG" in warnings
    page = (workdir / "results/mine/report/data.html").read_text()  # the report's data page
    assert "real sources (cameras) are JPEG (q~95) but fake sources (generator) are PNG" in page
    assert "Rejected files: 8" in page and re.search(r"empty file \(0 bytes\)</td><td[^>]*>1</td>", page)
    audit = pd.read_csv(workdir / "results/mine/format_audit.csv").set_index("source")
    assert audit["rejected"].to_dict() == rejects["source"].value_counts().to_dict() == {"cameras": 6, "generator": 2}
    assert audit.loc["cameras", "files"] == 13 + 2 + 6  # used, linked and rejected

    write_images(cameras / "more", "photo", 1, seed=9)
    plan = planned_rules(workdir, "--configfile", str(config), "-s", str(REPO / "Snakefile"))
    assert plan["manifest"] == 1 and plan["features"] == 1, "a new image must rerun the manifest and features"


@pytest.mark.workflow
def test_touching_an_image_reruns_nothing_and_new_bytes_rerun_everything_after(user_folders, tmp_path):
    config = write_config(tmp_path / "mine.yaml", user_config(user_folders))
    workdir = tmp_path / "run"
    workdir.mkdir()
    targets = ("results/mine_table.csv", "results/mine/rejects.csv")
    args = ("--configfile", str(config), "-s", str(REPO / "Snakefile"), *targets)
    snakemake(workdir, *args, snakefile=REPO / "Snakefile")
    image = user_folders / "cameras" / "003.jpg"

    image.touch()
    assert planned_rules(workdir, *args) == {}, "the manifest's content is unchanged: nothing to rerun"

    other = cv2.imencode(".jpg", np.full((96, 96, 3), 128, np.uint8))[1].tobytes()
    image.write_bytes(other)
    plan = planned_rules(workdir, *args)
    assert {"manifest", "features", "train", "table", "rejects"} <= set(plan), plan
    snakemake(workdir, *args, snakefile=REPO / "Snakefile")
    assert planned_rules(workdir, *args) == {}
    manifest = pd.read_parquet(workdir / "results/mine/manifest.parquet").set_index("id")
    assert manifest.loc["cameras/003.jpg", "sha256"] == hashlib.sha256(other).hexdigest()


@pytest.mark.workflow
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sizess": [20]}, "datasets.mine: unknown key 'sizess'"),
        ({"sizes": ["many"]}, "datasets.mine.sizes[0]: 'many' does not match '^all$'"),
        ({"variant": "fft"}, "datasets.mine.variant: 'fft' is not one of"),
        (
            {"classifiers": {"svm": {"kind": "svm", "n_init": 3}}},
            "datasets.mine.classifiers.svm: unknown key 'n_init'; allowed keys: C, gamma, kernel, kind",
        ),
    ],
)
def test_config_errors_name_the_key(user_folders, tmp_path, overrides, message):
    config = write_config(tmp_path / "bad.yaml", user_config(user_folders, **overrides))
    result = snakemake(tmp_path, "-n", "--configfile", str(config), snakefile=REPO / "Snakefile", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


@pytest.mark.workflow
def test_missing_folder_names_the_source(tmp_path):
    (tmp_path / "generator").write_bytes(b"a file where the folder should be")
    settings = user_config(tmp_path, spectrum_length=64)
    settings["datasets"]["mine"]["sources"]["clips"] = {"label": "fake", "videos": str(tmp_path / "clips")}
    config = write_config(tmp_path / "bad.yaml", settings)
    result = snakemake(tmp_path, "-n", "--configfile", str(config), snakefile=REPO / "Snakefile", check=False)
    assert result.returncode != 0
    assert f"datasets.mine.sources.cameras: image folder {tmp_path}/cameras does not exist" in result.stderr
    assert f"datasets.mine.sources.generator: {tmp_path}/generator is a file, not a folder" in result.stderr
    assert f"datasets.mine.sources.clips: video folder {tmp_path}/clips does not exist" in result.stderr


@pytest.mark.workflow
def test_real_faces_through_the_workflow(tmp_path):
    """FFHQ vs StyleGAN faces (research sample data): both re-encoded at q75, so only modest accuracy."""
    faces = shared_data("faces256")
    config = {
        "default_datasets": ["faces256"],
        "datasets": {
            "faces256": {
                "sizes": [100, 20],
                "repeats": 3,
                "shards": 2,
                "robustness": {"size": 40, "repeats": 2},
                "sources": {
                    "ffhq": {"label": "real", "path": str(faces / "real")},
                    "stylegan": {"label": "fake", "path": str(faces / "fake")},
                },
            }
        },
    }
    snakemake(
        tmp_path, "--configfile", str(write_config(tmp_path / "faces.yaml", config)), snakefile=REPO / "Snakefile"
    )
    assert pd.read_csv(tmp_path / "results/faces256/rejects.csv").empty
    table = pd.read_csv(tmp_path / "results/faces256_table.csv")
    assert table["samples"].tolist() == [100, 20]
    assert table[["svm", "logreg", "kmeans"]].stack().between(0, 1).all()
    features = pd.read_parquet(tmp_path / "results/faces256/features/faces_hq/shard-0.parquet")
    assert features["features"].map(len).eq(179).all()  # 256 px: 179 rings
    metrics = pd.read_csv(tmp_path / "results/faces256/metrics.csv")
    assert len(metrics) == 3 * 2 * 9 and metrics["mean"].notna().all()
    robustness = pd.read_csv(tmp_path / "results/faces256_robustness.csv")
    perturbations = set(robustness["perturbation"].dropna()) - {"none"}
    assert len(perturbations) == 11, "the default sweep: JPEG 95..30, scaling, blur, noise"
    assert (tmp_path / "results/faces256/figures/robustness.png").stat().st_size > 0


@pytest.mark.workflow
def test_a_source_folder_that_holds_the_results_is_refused(user_folders, tmp_path):
    """`path: .` read the workflow's own figures and crops as images, and every run changed them again."""
    settings = user_config(user_folders)
    settings["datasets"]["mine"]["sources"]["cameras"]["path"] = "."
    config = write_config(tmp_path / "dot.yaml", settings)
    workdir = user_folders / "cameras"
    result = snakemake(workdir, "-n", "--configfile", str(config), snakefile=REPO / "Snakefile", check=False)
    assert result.returncode == 1
    assert (
        "datasets.mine.sources.cameras: the folder . holds the workflow's results/, whose figures and crops would"
        " become its images; point it at the images' own folder" in result.stderr
    )


@pytest.mark.workflow
def test_a_video_whose_path_looks_like_a_wildcard_is_planned(user_folders, tmp_path):
    """`v{id}/clip {1}.mp4` stopped the run: Snakemake read the braces of an input file as wildcards."""
    videos = tmp_path / "v{id}"
    videos.mkdir()
    (videos / "clip {1}.mp4").write_bytes(b"not yet a video")
    settings = user_config(user_folders, spectrum_length=64)
    settings["datasets"]["mine"]["sources"]["generator"] = {"label": "fake", "videos": str(videos)}
    config = write_config(tmp_path / "braces.yaml", settings)
    args = ("--configfile", str(config), "-s", str(REPO / "Snakefile"), "results/mine/manifest.parquet")
    assert planned_rules(tmp_path, *args) == {"crops": 1, "manifest": 1}
    # not a Snakemake input, its content is a parameter of the crops: new bytes rerun them
    assert hashlib.sha256(b"not yet a video").hexdigest() in snakemake(tmp_path, "-n", "-p", *args).stdout
