"""Real 2-D FFTs of images, bit-for-bit reproducible: FFTW plans from shipped wisdom, pocketfft otherwise.

Which engine transforms an image depends on its shape alone, never on what ran
before, so an image's features are the same in every run, shard and process:

* with the ``fftw`` extra (pyFFTW) installed, the shapes in ``WISDOM_SHAPES``
  (squares of 64 .. 2048 px, e.g. Faces-HQ's 1024) go through an in-place FFTW
  plan rebuilt from the wisdom in ``fftw_wisdom.py`` (``FFTW_WISDOM_ONLY``):
  a fixed algorithm, measured once when the wisdom was written
  (``python -m unmask.features.make_fftw_wisdom``), about 1.8x faster than
  pocketfft at 1024 px. FFTW's own measured plans (``FFTW_MEASURE``) time
  their candidates afresh in each process, pick different algorithms and so
  differ in the last bits between runs; plans from fixed wisdom do not;
* every other shape, every shape whose plan cannot be rebuilt from the wisdom
  here (another FFTW build or CPU: the wisdom names AVX code), and everything
  without pyFFTW: scipy's pocketfft on one thread.

Features computed with and without the extra differ by up to ~5e-14 relative
(measured on the sample faces), so each run is bit-for-bit reproducible on its
machine and installation, not across the two.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache
from types import ModuleType
from typing import Any

import numpy as np

from unmask.features.fftw_wisdom import SHAPES as WISDOM_SHAPES
from unmask.features.fftw_wisdom import WISDOM

FFTW_FLAGS = ("FFTW_MEASURE", "FFTW_WISDOM_ONLY", "FFTW_DESTROY_INPUT")  # rebuild, never time, a plan
MAX_PLANS = 4  # per thread, least recently used dropped first


class _Transforms(threading.local):
    """One thread's FFTW plans per shape (each with its own aligned buffer; None: pocketfft) and pocketfft input."""

    def __init__(self) -> None:
        self.plans: OrderedDict[tuple[int, int], object] = OrderedDict()
        self.inputs: dict[tuple[int, int], np.ndarray] = {}


_transforms = _Transforms()


_loading = threading.Lock()


def _fftw() -> ModuleType | None:
    """pyfftw with the shipped wisdom loaded, imported on first need (0.8 s); None where it is not installed."""
    with _loading:  # the first caller loads the wisdom before any thread can plan
        return _load_fftw()


@lru_cache(maxsize=1)
def _load_fftw() -> ModuleType | None:
    try:
        import pyfftw
    except ImportError:
        return None
    pyfftw.import_wisdom((WISDOM, b"", b""))  # double precision only
    module: ModuleType = pyfftw
    return module


def _uses_fftw(shape: tuple[int, int]) -> bool:
    """Whether ``shape`` has shipped wisdom (its plan is then tried; the tests widen this)."""
    return shape in WISDOM_SHAPES


def new_plan(shape: tuple[int, int], flags: tuple[str, ...]) -> Any:  # a pyfftw.FFTW (untyped) or None
    """An in-place FFTW plan for real images of ``shape`` (the image goes into the padded rows of the
    spectrum's own buffer, ~25% faster); None without pyfftw or when ``flags`` cannot make one."""
    pyfftw = _fftw()
    if pyfftw is None:
        return None
    spectrum = pyfftw.empty_aligned((shape[0], shape[1] // 2 + 1), dtype="complex128")
    pixels = spectrum.view(np.float64)[:, : shape[1]]
    try:
        return pyfftw.FFTW(pixels, spectrum, axes=(0, 1), flags=flags, threads=1)
    except RuntimeError:  # "No FFTW wisdom is known for this plan."
        return None


def _plan(shape: tuple[int, int]) -> Any:
    """This thread's FFTW plan for ``shape``, or None where pocketfft transforms it."""
    if not _uses_fftw(shape):
        return None
    plans = _transforms.plans
    if shape not in plans:
        plans[shape] = new_plan(shape, FFTW_FLAGS)
        if len(plans) > MAX_PLANS:
            plans.popitem(last=False)
    plans.move_to_end(shape)
    return plans[shape]


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
        import scipy.fft  # 0.2 s to import: not where every shape has an FFTW plan

        spectrum: np.ndarray = scipy.fft.rfft2(pixels, workers=1)
    else:
        spectrum = plan()
    return spectrum


def engines() -> str:
    """The FFT engines of this installation, for a model's provenance: features agree within one installation
    bit for bit, and across the two engines to ~1e-13 relative (see the module docstring)."""
    import scipy

    pocketfft = f"pocketfft (scipy {scipy.__version__})"
    pyfftw = _fftw()
    if pyfftw is None:
        return pocketfft
    sides = sorted(side for side, _ in WISDOM_SHAPES)
    return f"FFTW (pyFFTW {pyfftw.__version__}) for squares of {', '.join(map(str, sides))} px, else {pocketfft}"
