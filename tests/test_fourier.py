"""Real 2-D FFTs: pocketfft and FFTW plans agree with numpy; the engine, and so every bit, follows from the shape."""

from __future__ import annotations

import runpy

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


def _pyfftw():
    """pyfftw with the shipped wisdom loaded, or skip: it is the optional 'fftw' extra."""
    pyfftw = fourier._fftw()
    if pyfftw is None:
        pytest.skip("pyfftw (the optional 'fftw' extra: pip install -e '.[fftw]') is not installed")
    return pyfftw


def test_shapes_with_shipped_wisdom_get_plans_from_it(fresh_transforms) -> None:
    _pyfftw()
    for shape in sorted(fourier.WISDOM_SHAPES):
        assert fourier.new_plan(shape, fourier.FFTW_FLAGS) is not None, f"no plan from the shipped wisdom for {shape}"
    fourier.rfft2(_image((64, 64)))
    fourier.rfft2(_image((40, 40)))
    assert fourier._transforms.plans[(64, 64)] is not None
    assert (40, 40) not in fourier._transforms.plans  # no wisdom: pocketfft, without trying to plan


def test_a_transform_does_not_depend_on_what_ran_before(fresh_transforms) -> None:
    """The engine follows from the shape alone: the first image of a shape gets the bits of the hundredth."""
    image = _image((1024, 1024))
    first = fourier.rfft2(image).tobytes()
    for seed in range(1, 70):  # more than 64 images of 1024 px: enough for any per-shape plan to be made
        fourier.rfft2(_image((1024, 1024), seed))
    assert fourier.rfft2(image).tobytes() == first


@pytest.mark.parametrize("side", [64, 1024])
def test_plans_from_wisdom_ignore_where_their_buffers_lie(side: int) -> None:
    """pyfftw aligns buffers to 32 bytes only; a plan from wisdom gives the same bits at every such offset."""
    pyfftw = _pyfftw()
    image, size = _image((side, side)), side * (side // 2 + 1) * 16
    results = set()
    memory = np.empty(size + 8192, np.uint8)
    page = -memory.ctypes.data % 4096
    for offset in range(page, page + 4096, 32):
        spectrum = memory[offset : offset + size].view(np.complex128).reshape(side, side // 2 + 1)
        pixels = spectrum.view(np.float64)[:, :side]
        plan = pyfftw.FFTW(pixels, spectrum, axes=(0, 1), flags=fourier.FFTW_FLAGS, threads=1)
        np.copyto(pixels, image)
        results.add(plan().tobytes())
    assert len(results) == 1


def test_least_recently_used_plans_are_dropped(monkeypatch, fresh_transforms) -> None:
    _pyfftw()
    monkeypatch.setattr(fourier, "_uses_fftw", lambda shape: True)
    monkeypatch.setattr(fourier, "FFTW_FLAGS", ("FFTW_ESTIMATE", "FFTW_DESTROY_INPUT"))
    shapes = [(16, 16 + i) for i in range(fourier.MAX_PLANS + 1)]
    for shape in shapes:
        fourier.rfft2(_image(shape))
    fourier.rfft2(_image(shapes[1]))  # used again: kept
    fourier.rfft2(_image((8, 8)))
    assert list(fourier._transforms.plans) == [*shapes[3:], shapes[1], (8, 8)]


def test_without_pyfftw_pocketfft_does_everything(monkeypatch, fresh_transforms) -> None:
    monkeypatch.setattr(fourier, "_fftw", lambda: None)
    image = _image((64, 64))  # a shape with shipped wisdom
    np.testing.assert_allclose(fourier.rfft2(image), np.fft.rfft2(image), atol=1e-9)
    assert fourier._transforms.plans == {(64, 64): None}


def test_written_wisdom_rebuilds_its_plans(tmp_path, monkeypatch) -> None:
    pyfftw = _pyfftw()
    from unmask.features import fftw_wisdom, make_fftw_wisdom

    module = tmp_path / "fftw_wisdom.py"
    monkeypatch.setattr(make_fftw_wisdom, "MODULE", module)
    monkeypatch.setattr("sys.argv", ["make_fftw_wisdom", "--sides", "24", "--flag", "FFTW_MEASURE"])
    try:
        make_fftw_wisdom.main()
        written = runpy.run_path(str(module))
        assert written["SHAPES"] == {(24, 24)}
        pyfftw.forget_wisdom()
        assert fourier.new_plan((24, 24), fourier.FFTW_FLAGS) is None  # nothing to rebuild it from
        pyfftw.import_wisdom((written["WISDOM"], b"", b""))
        assert fourier.new_plan((24, 24), fourier.FFTW_FLAGS) is not None
    finally:  # back to the shipped wisdom for the tests that follow
        pyfftw.forget_wisdom()
        pyfftw.import_wisdom((fftw_wisdom.WISDOM, b"", b""))
