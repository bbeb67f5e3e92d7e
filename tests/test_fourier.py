"""Real 2-D FFTs: pocketfft and measured FFTW plans agree with numpy, and plans go to recurring shapes."""
from __future__ import annotations

import numpy as np
import pytest

from unmask.features import fourier


def _image(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.uint8)


@pytest.mark.parametrize("shape", [(64, 64), (31, 64), (64, 31), (101, 100), (3, 3)], ids=str)
def test_rfft2_equals_numpy(shape: tuple[int, int], fft_engine: str) -> None:
    image = _image(shape)
    expected = np.fft.rfft2(image.astype(np.float64))
    got = fourier.rfft2(image)
    assert got.dtype == np.complex128 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-13, atol=1e-9)


def test_each_call_transforms_its_own_image(fft_engine: str) -> None:
    first, second = _image((32, 32), 1), _image((32, 32), 2)
    np.testing.assert_allclose(fourier.rfft2(first), np.fft.rfft2(first), atol=1e-9)
    np.testing.assert_allclose(fourier.rfft2(second), np.fft.rfft2(second), atol=1e-9)
    np.testing.assert_array_equal(first, _image((32, 32), 1))  # the input is copied, never overwritten


def test_rejects_non_2d_images() -> None:
    with pytest.raises(ValueError, match=r"expected a 2-D grayscale image, got shape \(4, 4, 3\)"):
        fourier.rfft2(np.zeros((4, 4, 3)))


@pytest.fixture
def fresh_transforms(monkeypatch) -> None:
    monkeypatch.setattr(fourier, "_transforms", fourier._Transforms())


def test_a_shape_gets_a_plan_once_enough_pixels_went_through(monkeypatch, fresh_transforms) -> None:
    monkeypatch.setattr(fourier, "PLAN_AFTER_PIXELS", 3 * 40 * 40)
    image = _image((40, 40))
    for _ in range(2):
        fourier.rfft2(image)
        assert (40, 40) not in fourier._transforms.plans
    np.testing.assert_allclose(fourier.rfft2(image), np.fft.rfft2(image), atol=1e-9)
    assert (40, 40) in fourier._transforms.plans
    fourier.rfft2(_image((40, 41)))
    assert (40, 41) not in fourier._transforms.plans  # counted per shape


def test_least_recently_used_plans_are_dropped(monkeypatch, fresh_transforms) -> None:
    monkeypatch.setattr(fourier, "PLAN_AFTER_PIXELS", 0)
    shapes = [(16, 16 + i) for i in range(fourier.MAX_PLANS + 1)]
    for shape in shapes:
        fourier.rfft2(_image(shape))
    fourier.rfft2(_image(shapes[1]))  # used again: kept
    fourier.rfft2(_image((8, 8)))
    assert list(fourier._transforms.plans) == [*shapes[3:], shapes[1], (8, 8)]


def test_without_pyfftw_pocketfft_does_everything(monkeypatch, fresh_transforms) -> None:
    monkeypatch.setattr(fourier, "_fftw", lambda: None)
    monkeypatch.setattr(fourier, "PLAN_AFTER_PIXELS", 0)
    image = _image((48, 48))
    np.testing.assert_allclose(fourier.rfft2(image), np.fft.rfft2(image), atol=1e-9)
    assert not fourier._transforms.plans
