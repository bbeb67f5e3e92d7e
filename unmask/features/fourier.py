"""Real 2-D FFTs of images: measured FFTW plans for shapes that recur, pocketfft otherwise.

A dataset like Faces-HQ is thousands of images of one shape. For such a shape
a measured, in-place FFTW plan (pyfftw, ``FFTW_MEASURE``) is about 1.5x
faster than scipy's pocketfft at 1024 x 1024, but measuring costs
0.1-0.6 s, which pays off only after a few hundred images. So a shape gets its
plan once ``PLAN_AFTER_PIXELS`` of it have gone through pocketfft in this
thread; shapes that vary (face crops) stay on pocketfft. Both agree to ~1e-15
relative. FFTW picks its algorithm by timing, so features computed through it
can differ in the last bits between runs. Without pyfftw, pocketfft does all.
"""
from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from functools import lru_cache

import numpy as np
import scipy.fft

PLAN_AFTER_PIXELS = 1 << 26  # 64 images of 1024 x 1024, 1,024 of 256 x 256
MAX_PLANS = 4  # per thread, least recently used dropped first


class _Transforms(threading.local):
    """One thread's FFTW plans (each with its own aligned buffers) and pixel counts per shape."""

    def __init__(self) -> None:
        self.pixels_seen: Counter[tuple[int, int]] = Counter()
        self.plans: OrderedDict[tuple[int, int], object] = OrderedDict()
        self.inputs: dict[tuple[int, int], np.ndarray] = {}


_transforms = _Transforms()


@lru_cache(maxsize=1)
def _fftw():
    """pyfftw, imported on first need (it takes 0.3 s), or None where it is not installed."""
    try:
        import pyfftw
    except ImportError:
        return None
    return pyfftw


def _plan(shape: tuple[int, int]):
    """This thread's FFTW plan for ``shape``, made once the shape has earned one; else None."""
    state = _transforms
    if shape in state.plans:
        state.plans.move_to_end(shape)
        return state.plans[shape]
    state.pixels_seen[shape] += shape[0] * shape[1]
    pyfftw = _fftw() if state.pixels_seen[shape] >= PLAN_AFTER_PIXELS else None
    if pyfftw is None:
        return None
    # In place: the image goes into the (padded) rows of the spectrum's own buffer, ~25% faster.
    spectrum = pyfftw.empty_aligned((shape[0], shape[1] // 2 + 1), dtype="complex128")
    pixels = spectrum.view(np.float64)[:, : shape[1]]
    state.plans[shape] = pyfftw.FFTW(pixels, spectrum, axes=(0, 1), flags=("FFTW_MEASURE", "FFTW_DESTROY_INPUT"), threads=1)
    if len(state.plans) > MAX_PLANS:
        state.plans.popitem(last=False)
    return state.plans[shape]


def _input_buffer(shape: tuple[int, int]) -> np.ndarray:
    """A float64 array of ``shape`` that this thread reuses for pocketfft's input.

    A fresh image-sized array per call costs ~1000 page faults at 1024 px (a fifth
    of the feature time) whenever the allocator hands freed memory back to the OS.
    """
    buffer = _transforms.inputs.get(shape)
    if buffer is None:
        _transforms.inputs.clear()  # keep one: shapes that vary would otherwise pile up
        buffer = _transforms.inputs[shape] = np.empty(shape, dtype=np.float64)
    return buffer


def rfft2(image: np.ndarray) -> np.ndarray:
    """The real FFT (``numpy.fft.rfft2`` layout) of a 2-D image, as complex128.

    The result may be a buffer that this thread's next call overwrites: use it
    (or change it) before calling again.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {image.shape}")
    plan = _plan(image.shape)
    pixels = _input_buffer(image.shape) if plan is None else plan.input_array
    np.copyto(pixels, image)
    if plan is None:
        return scipy.fft.rfft2(pixels, workers=1)
    return plan()
