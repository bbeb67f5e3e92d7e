"""The spectral features against the seed paper: its reference CSVs and its original algorithm."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import SHARED_DATA as DATA
from conftest import shared_data  # research-only sample data: absent on users' machines
from scipy.interpolate import interp1d

from benchmarks import original  # the seed algorithm, restated plainly
from unmask.features import spectrum

EXPECTED_REFERENCES = [
    "celeba_fake128/reference_celeba80.csv",  # the seed authors' own published rows
    "faces1024/reference_celeba.csv",
    "faces1024/reference_dfd.csv",
    "faces1024/reference_faces_hq.csv",
    "faces256/reference_celeba.csv",
    "faces256/reference_dfd.csv",
    "faces256/reference_faces_hq.csv",
]
VARIANT_OF = {"celeba80": "celeba"}  # reference file suffix -> variant, where they differ
TOLERANCE = 1e-9  # float64 throughout gives <1e-11; a float32 FFT would miss by ~2e-3


def _reference_files() -> list:
    if not DATA.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"research sample data {DATA} is absent"))]
    return sorted({*EXPECTED_REFERENCES, *(str(p.relative_to(DATA)) for p in DATA.glob("*/reference_*.csv"))})


@cache
def _gray(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    assert image is not None, f"cannot decode {path}"
    return image


def _random_image(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


# --- reference CSVs (exactly as the paper computes the features) ---------------------------------


@pytest.mark.parametrize("reference", _reference_files())
def test_matches_reference_csv(reference: str, fft_engine: str) -> None:
    path = DATA / reference
    assert path.is_file(), f"reference file {path} is missing"
    variant = path.stem.removeprefix("reference_")
    variant = VARIANT_OF.get(variant, variant)
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header, rows = rows[0], rows[1:]
    assert header[0] == "file" and rows, f"{path} has no feature rows"
    worst = 0.0
    for row in rows:
        expected = np.array(row[1:], dtype=np.float64)
        got = spectrum.features(_gray(path.parent / row[0]), variant)
        assert got.shape == expected.shape, f"{row[0]}: {got.shape} values, reference has {expected.shape}"
        worst = max(worst, float(np.abs(got - expected).max()))
    assert worst <= TOLERANCE, f"{reference}: max abs difference {worst:.3g}"


def test_reference_files_present() -> None:
    shared_data()
    missing = [name for name in EXPECTED_REFERENCES if not (DATA / name).is_file()]
    assert not missing, f"reference files missing from {DATA}: {missing}"


# --- odd shapes against the original algorithm ---------------------------------------------------

SHAPES = [(17, 17), (31, 64), (64, 31), (100, 101), (101, 100), (128, 128), (4, 4), (3, 5), (5, 3), (3, 7), (9, 4)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[1]}x{s[0]}")
def test_profile_matches_original(shape: tuple[int, int], fft_engine: str) -> None:
    image = _random_image(shape)
    expected = original.profile(image)
    assert expected.size > 0
    np.testing.assert_allclose(spectrum.azimuthal_profile(image), expected, rtol=0, atol=1e-8)


@pytest.mark.parametrize(
    "image, atol",
    [
        (np.zeros((64, 64)), 1e-8),
        (np.full((64, 64), 200.0), 1e-8),
        (np.tile([0.0, 255.0], (32, 16)), 1e-8),
        # Odd sizes leave FFT round-off (~1e-13) in the zero coefficients, not negligible beside the
        # 1e-8 guard, and it differs between FFT implementations: only close here.
        (np.full((31, 17), 7.0), 1e-3),
    ],
    ids=["zeros", "constant", "stripes", "constant-odd"],
)
def test_degenerate_spectra_match_original(image: np.ndarray, atol: float, fft_engine: str) -> None:
    # Exact-zero coefficients meet the 1e-8 guard, which must reach every coefficient as in the seed code.
    np.testing.assert_allclose(spectrum.azimuthal_profile(image), original.profile(image), rtol=0, atol=atol)


def test_accepts_float_and_uint8_alike_and_leaves_input_untouched() -> None:
    image = _random_image((40, 33))
    as_float = image.astype(np.float64)
    np.testing.assert_array_equal(spectrum.azimuthal_profile(image), spectrum.azimuthal_profile(as_float))
    np.testing.assert_array_equal(as_float, image)


@pytest.mark.parametrize("variant", sorted(spectrum.VARIANTS))
@pytest.mark.parametrize("shape", [(100, 101), (128, 128), (96, 160), (161, 97)], ids=lambda s: f"{s[1]}x{s[0]}")
def test_features_match_original(variant: str, shape: tuple[int, int]) -> None:
    image = _random_image(shape, seed=1)
    np.testing.assert_allclose(spectrum.features(image, variant), original.features(image, variant), rtol=0, atol=1e-8)


@pytest.mark.parametrize("shape", [(3, 3), (3, 4), (4, 3)])
def test_shapes_with_no_rings_are_too_small(shape: tuple[int, int]) -> None:
    assert original.profile(_random_image(shape)).size == 0  # the seed code yields an empty profile
    with pytest.raises(ValueError, match="too small"):
        spectrum.azimuthal_profile(_random_image(shape))


@pytest.mark.parametrize("shape", [(0, 0), (1, 1), (2, 2), (2, 9), (9, 2), (1, 64)])
def test_tiny_images_are_rejected(shape: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="too small"):
        spectrum.azimuthal_profile(np.zeros(shape))


def test_rejects_non_2d_images() -> None:
    with pytest.raises(ValueError, match="2-D"):
        spectrum.azimuthal_profile(np.zeros((8, 8, 3)))


def test_middle_third_too_small() -> None:
    with pytest.raises(ValueError, match="too small"):
        spectrum.middle_third(np.zeros((2, 9)))
    np.testing.assert_array_equal(
        spectrum.middle_third(np.arange(81).reshape(9, 9)), np.arange(81).reshape(9, 9)[3:6, 3:6]
    )


# --- lengths, resampling, variants ---------------------------------------------------------------


@pytest.mark.parametrize("size, native", [(1024, 722), (256, 179)])
def test_output_lengths(size: int, native: int) -> None:
    image = _random_image((size, size))
    assert spectrum.features(image, "faces_hq").shape == (native,)
    assert spectrum.features(image, "celeba").shape == (80,)
    assert spectrum.features(image, "dfd").shape == (300,)
    assert spectrum.features(image, spectrum.get_variant("celeba", length=33)).shape == (33,)


@pytest.mark.parametrize("source", [179, 722])
@pytest.mark.parametrize("target", [80, 300])
def test_resample_equals_interp1d_cubic_at_paper_points(source: int, target: int) -> None:
    profile = np.random.default_rng(source).normal(size=source).cumsum()
    np.testing.assert_allclose(
        spectrum.resample(profile, target), original.interpolate(profile, target), rtol=0, atol=1e-9
    )


@pytest.mark.parametrize("source, target", [(4, 100), (10, 37), (50, 7), (100, 100), (300, 1000), (1000, 1), (5, 2)])
def test_resample_any_length(source: int, target: int) -> None:
    """Spectra of differently sized images are brought to one length by resampling, not by resizing images."""
    rng = np.random.default_rng(target)
    batch = rng.normal(size=(3, source)).cumsum(axis=1)
    got = spectrum.resample(batch, target)
    assert got.shape == (3, target)
    points, xi = np.linspace(0, target, source), np.linspace(0, target, target)
    for row, expected in zip(got, batch):
        np.testing.assert_allclose(row, interp1d(points, expected, kind="cubic")(xi), rtol=0, atol=1e-9)


def test_resample_same_length_is_a_copy() -> None:
    profile = np.arange(10.0)
    out = spectrum.resample(profile, 10)
    np.testing.assert_array_equal(out, profile)
    assert out is not profile


def test_resample_too_short() -> None:
    with pytest.raises(ValueError, match="too short"):
        spectrum.resample(np.arange(3.0), 80)


def test_variants() -> None:
    assert set(spectrum.VARIANTS) == {"faces_hq", "celeba", "dfd"}
    assert spectrum.get_variant("dfd") == spectrum.Variant("dfd", middle_third=True, length=300, normalise=True)
    assert spectrum.get_variant("faces_hq", length=128).length == 128
    assert spectrum.VARIANTS["faces_hq"].length is None  # overriding does not touch the registry


@pytest.mark.parametrize(
    "call", [lambda: spectrum.get_variant("celebA"), lambda: spectrum.features(np.zeros((16, 16)), "hq")]
)
def test_unknown_variant_is_a_clear_error(call) -> None:
    with pytest.raises(ValueError, match=r"unknown feature variant .*choose one of \['celeba', 'dfd', 'faces_hq'\]"):
        call()


def test_threads_and_alternating_shapes_agree(fft_engine: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    images = [_random_image(shape, seed) for seed, shape in enumerate([(64, 64), (31, 64), (64, 64), (100, 101)] * 4)]
    expected = [original.profile(image) for image in images]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(spectrum.azimuthal_profile, images))
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=0, atol=1e-8)
