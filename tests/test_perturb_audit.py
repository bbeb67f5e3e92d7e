"""Image perturbations and the format audit, on images made here at known quality and subsampling."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from unmask.data.audit import (
    confound_warnings,
    estimate_quality,
    format_facts,
    ijg_table,
    summarize_sources,
)
from unmask.features.perturb import Perturbation, blur, encode_jpeg, jpeg, noise, parse_perturbation, scale


def photo(height=64, width=64, channels=3, seed=0) -> np.ndarray:
    """A photo-like uint8 image: smooth structure plus fine texture."""
    rng = np.random.default_rng(seed)
    coarse = cv2.resize(rng.uniform(40, 215, (8, 8, channels)), (width, height), interpolation=cv2.INTER_CUBIC)
    return (
        np.clip(coarse.reshape(height, width, channels) + rng.normal(0, 12, (height, width, channels)), 0, 255)
        .astype(np.uint8)
        .squeeze()
    )


def quantization(data: bytes) -> dict[int, list[int]]:
    with Image.open(io.BytesIO(data)) as image:
        return image.quantization


# --- perturbations -------------------------------------------------------------------------------


def test_jpeg_quality_reaches_the_encoder():
    encoded = {q: encode_jpeg(photo(), q) for q in (30, 60, 90)}
    sizes = [len(encoded[q]) for q in (30, 60, 90)]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3
    for q, data in encoded.items():  # an encoder stuck at its default (95) would fail here
        assert quantization(data)[0] == ijg_table(q).tolist()


def test_jpeg_round_trip_keeps_shape_and_loses_more_at_lower_quality():
    image = photo(channels=1)
    errors = []
    for q in (20, 95):
        decoded = jpeg(image, q)
        assert decoded.shape == image.shape and decoded.dtype == np.uint8
        errors.append(np.abs(decoded.astype(int) - image).mean())
    assert errors[0] > errors[1] > 0


def test_scale_returns_the_original_shape_and_removes_fine_detail():
    checkerboard = (np.indices((32, 48)).sum(axis=0) % 2 * 255).astype(np.uint8)
    scaled = scale(checkerboard, 0.5)
    assert scaled.shape == checkerboard.shape and scaled.dtype == np.uint8
    assert np.ptp(scaled) <= 1  # area averaging by 2 turns a one-pixel checkerboard grey
    assert scale(photo(), 0.37).shape == (64, 64, 3)
    np.testing.assert_array_equal(scale(checkerboard, 1.0), checkerboard)


def test_blur_smooths_more_with_larger_sigma():
    image = photo(channels=1)
    roughness = [np.abs(np.diff(blur(image, s).astype(int), axis=1)).mean() for s in (0.5, 2.0)]
    assert np.abs(np.diff(image.astype(int), axis=1)).mean() > roughness[0] > roughness[1]


def test_noise_is_seeded_and_has_the_requested_sigma():
    grey = np.full((128, 128), 128, np.uint8)
    first = noise(grey, 5, np.random.default_rng([7, 0]))
    np.testing.assert_array_equal(first, noise(grey, 5, np.random.default_rng([7, 0])))
    assert not np.array_equal(first, noise(grey, 5, np.random.default_rng([7, 1])))
    assert first.dtype == np.uint8 and np.std(first.astype(float) - 128) == pytest.approx(5, rel=0.05)
    assert noise(np.full((8, 8), 254, np.uint8), 50, np.random.default_rng(0)).max() == 255  # clipped, not wrapped


def test_registry_parses_names_and_applies_them():
    assert parse_perturbation("jpeg:70") == Perturbation("jpeg", 70)
    assert [parse_perturbation(n).name for n in ("jpeg:70", "scale:0.5", "blur:1.0", "noise:5")] == [
        "jpeg:70", "scale:0.5", "blur:1", "noise:5",
    ]  # fmt: skip
    image = photo(channels=1)
    np.testing.assert_array_equal(parse_perturbation("jpeg:70")(image), jpeg(image, 70))
    np.testing.assert_array_equal(parse_perturbation("blur:1.5")(image), blur(image, 1.5))
    seeded = parse_perturbation("noise:3")(image, np.random.default_rng(1))
    np.testing.assert_array_equal(seeded, noise(image, 3, np.random.default_rng(1)))


@pytest.mark.parametrize(
    "name, message",
    [
        ("jpg:70", "unknown perturbation 'jpg:70': write one of jpeg:70"),
        ("jpeg", "unknown perturbation 'jpeg'"),
        ("jpeg:high", "'high' is not a number; write jpeg:70"),
        ("jpeg:170", "JPEG quality must be an integer in 1..100, got 170"),
        ("jpeg:70.5", "JPEG quality must be an integer"),
        ("scale:2", r"scale factor must be in \(0, 1\], got 2"),
        ("blur:0", "sigma must be a positive number, got 0"),
        ("blur:1e6", "blur sigma must be at most 100 pixels, got 1e\\+06"),
        ("noise:nan", "sigma must be a positive number"),
    ],
)
def test_registry_errors_say_what_is_wrong(name, message):
    with pytest.raises(ValueError, match=message):
        parse_perturbation(name)


def test_noise_without_a_generator_is_refused():
    with pytest.raises(ValueError, match="noise:5 needs a random generator"):
        parse_perturbation("noise:5")(photo())


def test_perturbations_refuse_non_images():
    with pytest.raises(ValueError, match="expected a decoded uint8 image"):
        blur(np.zeros((8, 8)), 1.0)


# --- audit ---------------------------------------------------------------------------------------


def save_pillow(path, quality=75, subsampling="4:2:0", channels=3, size=64):
    image = Image.fromarray(photo(size, size, channels))
    if path.suffix == ".png":
        image.save(path)
    else:
        image.save(path, "JPEG", quality=quality, subsampling=subsampling)
    return path


@pytest.mark.parametrize("quality", [50, 75, 90, 95])
def test_estimated_quality_of_ijg_encoders(tmp_path, quality):
    pillow = format_facts(save_pillow(tmp_path / "pillow.jpg", quality))
    opencv = tmp_path / "opencv.jpg"
    opencv.write_bytes(encode_jpeg(photo(), quality))
    for facts in (pillow, format_facts(opencv)):
        assert abs(facts.quality - quality) <= 2 and facts.quality_error == 0.0


def test_quality_of_a_foreign_table_is_the_nearest_with_an_error():
    table = (ijg_table(80) + np.tile([0, 1], 32)).tolist()  # an encoder of its own, close to IJG q80
    assert estimate_quality(table) == (80, 0.5)
    with pytest.raises(ValueError, match="64 entries"):
        estimate_quality(table[:63])


@pytest.mark.parametrize("subsampling", ["4:4:4", "4:2:2", "4:2:0"])
def test_chroma_subsampling(tmp_path, subsampling):
    facts = format_facts(save_pillow(tmp_path / "a.jpg", subsampling=subsampling))
    assert (facts.format, facts.width, facts.height, facts.subsampling) == ("JPEG", 64, 64, subsampling)


def test_grey_jpeg_and_png_facts(tmp_path):
    assert format_facts(save_pillow(tmp_path / "grey.jpg", channels=1)).subsampling == "gray"
    png = format_facts(save_pillow(tmp_path / "a.png"))
    assert (png.format, png.subsampling, png.quality) == ("PNG", None, None)


def make_sources(tmp_path, real: dict, fake: dict, files=3):
    """(source, label, path) items of one real and one fake source, saved with the given settings."""
    items = []
    for source, label, settings in (("camera", "real", real), ("gan", "fake", fake)):
        suffix = settings.pop("suffix", ".jpg")
        for i in range(files):
            (tmp_path / source).mkdir(exist_ok=True)
            items.append((source, label, save_pillow(tmp_path / source / f"{i}{suffix}", **settings)))
    return items


def test_summary_per_source_counts_files_and_the_rejects_of_rejects_csv(tmp_path):
    items = make_sources(tmp_path, {"quality": 90}, {"suffix": ".png"})
    rejects = [("camera", "manifest"), ("gan", "features"), ("gan", "listing"), ("gone", "manifest")]
    labels = {"camera": "real", "gan": "fake", "gone": "fake", "empty": "real"}
    rows = [summary.row() for summary in summarize_sources(items, rejects, labels)]
    assert rows[0] == {
        "source": "camera", "label": 0, "files": 4, "rejected": 1, "format": "JPEG", "size": "64x64",
        "subsampling": "4:2:0", "quality_median": 90, "quality_min": 90, "quality_max": 90,
    }  # fmt: skip
    assert (rows[1]["label"], rows[1]["files"], rows[1]["rejected"], rows[1]["format"]) == (1, 4, 2, "PNG")
    assert [(r["source"], r["files"], r["rejected"]) for r in rows[2:]] == [("gone", 1, 1), ("empty", 0, 0)]
    assert sum(row["rejected"] for row in rows) == len(rejects), "the audit and rejects.csv agree"
    with pytest.raises(ValueError, match="source 'gan' has files labelled both real and fake"):
        summarize_sources([*items, ("gan", 0, items[0][2])])
    with pytest.raises(ValueError, match="rejects name source 'gone', which has no label"):
        summarize_sources(items, rejects)


@pytest.mark.parametrize(
    "real, fake, expected",
    [
        (
            {"quality": 75},
            {"suffix": ".png"},
            "real sources (camera) are JPEG (q~75) but fake sources (gan) are PNG: "
            "a spectral classifier may learn the container instead of the generator",
        ),
        (
            {"quality": 95},
            {"quality": 75},
            "are JPEG q~95 but fake sources (gan) are JPEG q~75: a spectral classifier may learn the JPEG quality",
        ),
        (
            {"subsampling": "4:4:4"},
            {},
            "are JPEG 4:4:4 but fake sources (gan) are JPEG 4:2:0: a spectral classifier "
            "may learn the chroma subsampling",
        ),
        (
            {"size": 64},
            {"size": 48},
            "are 64x64 but fake sources (gan) are 48x48: a spectral classifier may learn the image size",
        ),
    ],
)
def test_confound_warnings(tmp_path, real, fake, expected):
    warnings = confound_warnings(summarize_sources(make_sources(tmp_path, real, fake)))
    assert len(warnings) == 1 and expected in warnings[0]


def test_no_warning_for_identical_settings(tmp_path):
    items = make_sources(tmp_path, {"quality": 90}, {"quality": 89})  # within the estimate's tolerance
    assert confound_warnings(summarize_sources(items)) == []


def test_jpeg_is_one_encode_decode_round_at_the_given_quality():
    image = photo()
    decoded = cv2.imdecode(np.frombuffer(encode_jpeg(image, 80), np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(jpeg(image, 80), decoded)
    assert not np.array_equal(jpeg(image, 80), jpeg(image, 60))


def test_the_audit_reads_rejects_csv_not_a_file_deleted_after_the_manifest(tmp_path):
    """Before: a file deleted after the manifest stopped the run in the audit job ([Errno 2]), although the
    features job had listed it as a reject."""
    import pandas as pd

    from unmask.cli import main
    from unmask.data.manifest import build_manifest
    from unmask.io import write_parquet

    for source in ("cams", "gen"):
        (tmp_path / source).mkdir()
        for name in ("a", "b"):
            image = np.random.default_rng(sum(map(ord, source + name))).integers(0, 256, (32, 32), dtype=np.uint8)
            cv2.imwrite(str(tmp_path / source / f"{name}.png"), image)
    sources = {
        "cams": {"label": "real", "path": str(tmp_path / "cams")},
        "gen": {"label": "fake", "path": str(tmp_path / "gen")},
    }
    manifest, _ = build_manifest(sources, seed=0)
    write_parquet(manifest, tmp_path / "manifest.parquet")
    (tmp_path / "cams" / "b.png").unlink()
    reason = "cannot read it (No such file or directory); the manifest listed it"
    row = {
        "id": "cams/b.png",
        "path": str(tmp_path / "cams" / "b.png"),
        "source": "cams",
        "stage": "features",
        "reason": reason,
    }
    pd.DataFrame([row]).to_csv(tmp_path / "rejects.csv", index=False)
    arguments = ["audit", "--manifest", str(tmp_path / "manifest.parquet"), "--rejects", str(tmp_path / "rejects.csv")]
    arguments += ["--labels", '{"cams": "real", "gen": "fake"}', "--out", str(tmp_path / "audit.csv")]
    assert main([*arguments, "--warnings", str(tmp_path / "warnings.txt")]) == 0
    table = pd.read_csv(tmp_path / "audit.csv").set_index("source")
    assert table.loc["cams", ["files", "rejected", "format"]].tolist() == [2, 1, "PNG"]
