"""Feature families against plain reference computations: full fft2, fftshift and loops, no shared code."""

from __future__ import annotations

import csv
import math

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, shared_data

from unmask.config import ConfigError, validate
from unmask.features import families, spectrum
from unmask.features.families import Decoded, Spec

TOLERANCE = 1e-8
SHAPES = [(64, 64), (70, 61), (61, 70), (128, 96)]


def _image(shape: tuple[int, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth-ish random BGR image and its gray, as OpenCV would give them."""
    rng = np.random.default_rng(seed)
    bgr = cv2.GaussianBlur(rng.integers(0, 256, (*shape, 3)).astype(np.uint8), (3, 3), 0.8)
    return bgr, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def _log_spectrum(plane: np.ndarray) -> np.ndarray:
    """The seed code's spectrum: fft2, fftshift, + 1e-8, 20 ln |.|."""
    return 20 * np.log(np.abs(np.fft.fftshift(np.fft.fft2(plane.astype(np.float64))) + 1e-8))


def _profile(plane: np.ndarray) -> np.ndarray:
    """Mean per integer-radius ring around ((W-1)/2, (H-1)/2), rings 1 .. max-1, by a loop over the pixels."""
    magnitude = _log_spectrum(plane)
    h, w = plane.shape
    sums: dict[int, float] = {}
    counts: dict[int, int] = {}
    for y in range(h):
        for x in range(w):
            r = int(math.hypot(x - (w - 1) / 2, y - (h - 1) / 2))
            sums[r] = sums.get(r, 0.0) + magnitude[y, x]
            counts[r] = counts.get(r, 0) + 1
    rings = sorted(sums)[1:-1]
    return np.array([sums[r] / counts[r] for r in rings])


def _band(profile: np.ndarray, low: float, high: float) -> np.ndarray:
    n = len(profile)
    return np.array([v for i, v in enumerate(profile, start=1) if low <= i / (n + 1) < high])


def _chroma(bgr: np.ndarray) -> list[np.ndarray]:
    """Cb and Cr (JFIF) per pixel, then means of 2x2 blocks, by loops."""
    b, g, r = (bgr[:, :, c].astype(np.float64) for c in range(3))
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    h, w = bgr.shape[0] // 2, bgr.shape[1] // 2
    return [
        np.array([[plane[2 * y : 2 * y + 2, 2 * x : 2 * x + 2].mean() for x in range(w)] for y in range(h)])
        for plane in (cb, cr)
    ]


def _compute(bgr: np.ndarray, gray: np.ndarray, item: str | dict) -> np.ndarray:
    spec = families.parse_spec(item)
    result = families.compute(Decoded(gray, bgr), [spec])[spec.name]
    assert not isinstance(result, str), result
    return result


def _close(got: np.ndarray, expected: np.ndarray) -> None:
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=TOLERANCE, atol=TOLERANCE)


@pytest.mark.parametrize("shape", SHAPES)
def test_paper_variants_are_the_papers_features(shape: tuple[int, int]) -> None:
    bgr, gray = _image(shape)
    for name in spectrum.VARIANTS:
        np.testing.assert_array_equal(_compute(bgr, gray, name), spectrum.features(gray, name))


@pytest.mark.parametrize("shape", SHAPES)
def test_ycbcr_radial(shape: tuple[int, int]) -> None:
    bgr, gray = _image(shape)
    expected = np.concatenate([_profile(gray), *(_profile(c) for c in _chroma(bgr))])
    _close(_compute(bgr, gray, "ycbcr_radial"), expected)


@pytest.mark.parametrize("shape", SHAPES[:2])
def test_rgb_radial(shape: tuple[int, int]) -> None:
    bgr, gray = _image(shape)
    _close(_compute(bgr, gray, "rgb_radial"), np.concatenate([_profile(bgr[:, :, c]) for c in (2, 1, 0)]))


@pytest.mark.parametrize("shape", [(256, 256), (260, 251)])
def test_angular(shape: tuple[int, int]) -> None:
    bgr, gray = _image(shape)
    h, w = shape
    magnitude = 20 * np.log(np.abs(np.fft.fft2(gray.astype(np.float64)) + 1e-8))
    sums = np.zeros((8, 32))
    counts = np.zeros((8, 32))
    for y in range(h):
        for x in range(w):
            fy, fx = np.fft.fftfreq(h)[y] * 2, np.fft.fftfreq(w)[x] * 2
            radius = math.hypot(fy, fx)
            if radius == 0 or radius >= 1:
                continue
            angle = math.atan2(fy, fx) % math.pi
            a = min(int(angle / math.pi * 8), 7)
            sums[a, int(radius * 32)] += magnitude[y, x]
            counts[a, int(radius * 32)] += 1
    _close(_compute(bgr, gray, "angular"), (sums / counts).ravel())
    low_band = _compute(bgr, gray, {"family": "angular", "band": [0, 0.25]})
    _close(low_band, (sums / counts)[:, :8].ravel())


def test_angular_refuses_images_with_empty_bins() -> None:
    bgr, gray = _image((128, 96))
    spec = Spec("angular")
    assert "empty" in families.compute(Decoded(gray, bgr), [spec])["angular"]


@pytest.mark.parametrize("shape", SHAPES)
def test_residual(shape: tuple[int, int]) -> None:
    bgr, gray = _image(shape)
    padded = np.pad(gray.astype(np.float64), 1, mode="edge")
    h, w = shape
    median = np.array([[np.median(padded[y : y + 3, x : x + 3]) for x in range(w)] for y in range(h)])
    _close(_compute(bgr, gray, "residual"), _profile(gray - median))


@pytest.mark.parametrize("shape", SHAPES)
def test_decay(shape: tuple[int, int]) -> None:
    bgr, gray = _image(shape)
    expected = []
    for profile in [_profile(gray), *(_profile(c) for c in _chroma(bgr))]:
        n = len(profile)
        rings = [i for i in range(1, n + 1) if i / (n + 1) >= 0.75]
        slope, intercept = np.polyfit(np.log(rings), profile[np.array(rings) - 1] / 20, 1)
        expected += [slope, intercept]
    _close(_compute(bgr, gray, "decay"), np.array(expected))


@pytest.mark.parametrize("family", ["faces_hq", "ycbcr_radial", "residual"])
def test_a_band_keeps_its_rings(family: str) -> None:
    bgr, gray = _image((64, 64))
    whole = _compute(bgr, gray, family)
    low = _compute(bgr, gray, {"family": family, "band": [0, 0.5]})
    high = _compute(bgr, gray, {"family": family, "band": [0.5, 1]})
    if family == "ycbcr_radial":
        parts = [_profile(gray), *(_profile(c) for c in _chroma(bgr))]
        _close(low, np.concatenate([_band(p, 0, 0.5) for p in parts]))
        _close(high, np.concatenate([_band(p, 0.5, 1) for p in parts]))
    else:
        _close(low, _band(whole, 0, 0.5))
        _close(high, _band(whole, 0.5, 1))
    assert len(low) + len(high) == len(whole)


def test_families_of_one_image_equal_each_computed_alone() -> None:
    bgr, gray = _image((70, 61))
    specs = [families.parse_spec(name) for name in families.FAMILIES]
    together = families.compute(Decoded(gray, bgr), specs)
    for spec in specs:
        np.testing.assert_array_equal(together[spec.name], families.compute(Decoded(gray, bgr), [spec])[spec.name])


def test_unknown_family_and_bad_band_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown feature family 'wavelet'"):
        families.parse_spec("wavelet")
    with pytest.raises(ValueError, match="0 <= low < high <= 1"):
        families.parse_spec({"family": "angular", "band": [0.5, 0.25]})


def test_faces_hq_family_matches_the_reference_csv() -> None:
    """The paper's features through the family path, on the shared reference images (exact to 1e-9)."""
    folder = shared_data("faces1024")
    with (folder / "reference_faces_hq.csv").open(newline="") as handle:
        rows = list(csv.reader(handle))[1:4]
    for row in rows:
        data = (folder / row[0]).read_bytes()
        gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
        got = families.compute(Decoded(gray), [Spec("faces_hq")])["faces_hq"]
        np.testing.assert_allclose(got, np.array(row[1:], dtype=np.float64), rtol=0, atol=1e-9)


def test_profiles_are_resampled_to_the_spectrum_length_after_their_band() -> None:
    bgr, gray = _image((64, 64))
    spec = families.parse_spec({"family": "ycbcr_radial", "band": [0.25, 1]})
    got = families.compute(Decoded(gray, bgr), [spec], length=40)[spec.name]
    parts = [_profile(gray), *(_profile(c) for c in _chroma(bgr))]
    _close(got, np.concatenate([spectrum.resample(_band(p, 0.25, 1), 40) for p in parts]))


def test_band_controls_add_the_low_and_high_part_of_each_whole_family() -> None:
    specs = [Spec("faces_hq"), Spec("angular", (0.5, 1.0))]
    names = [spec.name for spec in families.band_controls(specs, 0.25)]
    assert names == ["faces_hq", "angular[0.5-1]", "faces_hq[0-0.25]", "faces_hq[0.25-1]"]


def _config(**dataset) -> dict:
    sources = {"a": {"label": "real"}, "b": {"label": "fake"}}
    return {"datasets": {"d": {"sources": sources, **dataset}}, "default_datasets": ["d"]}


def test_family_and_harmonise_settings_are_checked() -> None:
    config = validate(_config())["datasets"]["d"]
    assert config["families"] == {"compare": [], "band_split": 0.25, "size": "all"} and config["harmonise"] is None
    for dataset, message in [
        ({"families": {"compare": ["wavelet"]}}, "datasets.d.families.compare: unknown feature family 'wavelet'"),
        ({"families": {"compare": [{"family": "angular", "band": [0.5, 0.25]}]}}, "0 <= low < high <= 1"),
        ({"families": {"compare": [{"family": "angular", "band": [0, 2]}]}}, "datasets.d.families.compare[0]"),
        ({"families": {"band_split": 1}}, "datasets.d.families.band_split"),
        ({"harmonise": {"crop": 100}}, "datasets.d.harmonise.crop"),
        ({"harmonise": {"jpeg_quality": 0}}, "datasets.d.harmonise.jpeg_quality"),
    ]:
        with pytest.raises(ConfigError, match="invalid configuration") as error:
            validate(_config(**dataset))
        assert message in str(error.value), (dataset, str(error.value))


def test_the_diffusion_overlay_is_valid() -> None:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["datasets"].update(yaml.safe_load((REPO / "config/diffusion.yaml").read_text())["datasets"])
    dataset = validate(config)["datasets"]["diffusion"]
    assert dataset["harmonise"] == {"crop": 768, "jpeg_quality": None, "resample": None}
    assert [families.parse_spec(item).family for item in dataset["families"]["compare"]] == [
        "faces_hq",
        "ycbcr_radial",
        "angular",
        "residual",
        "decay",
    ]


def _write_images(folder, sizes: list[int], suffix: str, seed: int) -> None:
    folder.mkdir()
    for k, side in enumerate(sizes):
        bgr, _ = _image((side, side), seed + k)
        cv2.imwrite(str(folder / f"{k}{suffix}"), bgr)


def test_a_family_shard_and_its_comparison(tmp_path) -> None:
    import pyarrow.parquet as pq

    from unmask.analyses.families import compare
    from unmask.data.harmonise import Harmonise
    from unmask.data.manifest import build_manifest
    from unmask.features.family_shards import extract_shard
    from unmask.learn.protocol import Protocol

    _write_images(tmp_path / "real", [128, 96] * 4 + [64], ".jpg", 0)
    _write_images(tmp_path / "fake", [96] * 8, ".png", 100)
    sources = {"real": {"label": "real", "path": str(tmp_path / "real")}}
    sources["fake"] = {"label": "fake", "path": str(tmp_path / "fake")}
    manifest, _ = build_manifest(sources, seed=0)
    pq.write_table(manifest, tmp_path / "manifest.parquet")
    specs = families.band_controls([Spec("faces_hq"), Spec("ycbcr_radial"), Spec("angular")], 0.25)
    out = tmp_path / "shard.parquet"
    extract_shard(tmp_path / "manifest.parquet", 0, 1, specs, out, Harmonise(crop=96))

    rows = pq.read_table(out).to_pandas().set_index("id")
    assert [c for c in rows.columns if c not in ("label", "source", "group", "video", "harmonise", "reason")] == [
        "faces_hq",
        "ycbcr_radial",
        "angular",
        "faces_hq[0-0.25]",
        "faces_hq[0.25-1]",
        "ycbcr_radial[0-0.25]",
        "ycbcr_radial[0.25-1]",
        "angular[0-0.25]",
        "angular[0.25-1]",
    ]
    paths = dict(zip(manifest["id"].to_pylist(), manifest["path"].to_pylist()))
    assert len(rows) == 17
    for item, row in rows.iterrows():
        gray = cv2.imread(paths[item], cv2.IMREAD_GRAYSCALE)
        if gray.shape[0] < 96:  # never resampled: rejected with its reason, every family null
            assert pd.isna(row["harmonise"]) and "smaller than the harmonise crop of 96" in row["reason"]
            assert all(row[spec.name] is None or pd.isna(row[spec.name]) for spec in specs)
            continue
        offset = (gray.shape[0] - 96) // 2 // 16 * 16
        assert row["harmonise"] == f"crop 96 at x {offset}, y {offset}"
        expected = spectrum.features(gray[offset : offset + 96, offset : offset + 96], "faces_hq")
        np.testing.assert_array_equal(row["faces_hq"], expected)
        assert row["angular"] is None and "angular: image of 96x96 pixels leaves" in row["reason"]  # too small

    classifiers = {"logreg": {"kind": "logreg", "C": 1.0}}
    table = compare({"harmonised": [out]}, specs[:2], 0.25, classifiers, "all", Protocol("sample_split", 2, 0.25, 0))
    assert list(zip(table["family"], table["band"])) == [
        ("faces_hq", "all"),
        ("ycbcr_radial", "all"),
        ("faces_hq", "low"),
        ("faces_hq", "high"),
        ("ycbcr_radial", "low"),
        ("ycbcr_radial", "high"),
    ]
    assert (table["items"] == 16).all() and (table["repeats"] == 2).all()
    assert table[["accuracy", "roc_auc", "tpr_at_fpr_1"]].notna().all().all()


def test_resampling_needs_a_crop_and_a_known_method() -> None:
    assert (
        validate(_config(harmonise={"crop": 64, "resample": "area"}))["datasets"]["d"]["harmonise"]["resample"]
        == "area"
    )
    for harmonise, message in [({"resample": "area"}, "crop"), ({"crop": 64, "resample": "nearest"}, "resample")]:
        with pytest.raises(ConfigError, match=message):
            validate(_config(harmonise=harmonise))


def test_a_family_shard_refuses_a_file_changed_after_the_manifest(tmp_path) -> None:
    import pyarrow.parquet as pq

    from unmask.data.manifest import build_manifest
    from unmask.features.family_shards import extract_shard

    _write_images(tmp_path / "real", [64, 64], ".png", 0)
    _write_images(tmp_path / "fake", [64], ".png", 100)
    sources = {"real": {"label": "real", "path": str(tmp_path / "real")}}
    sources["fake"] = {"label": "fake", "path": str(tmp_path / "fake")}
    manifest, _ = build_manifest(sources, seed=0)
    pq.write_table(manifest, tmp_path / "manifest.parquet")
    (tmp_path / "real" / "0.png").write_bytes((tmp_path / "fake" / "0.png").read_bytes())  # replaced by a valid image
    (tmp_path / "real" / "1.png").unlink()
    out = tmp_path / "shard.parquet"
    assert extract_shard(tmp_path / "manifest.parquet", 0, 1, [Spec("faces_hq")], out) == 2

    reasons = dict(zip(*pq.read_table(out, columns=["id", "reason"]).to_pydict().values()))
    assert "sha256 differs" in reasons["real/0.png"] and "cannot read it" in reasons["real/1.png"]
    assert reasons["fake/0.png"] is None
