"""The seed paper's feature code, restated plainly: the reference for tests and benchmarks.

``fft2 -> fftshift -> +1e-8 -> 20 ln|F| -> azimuthalAverage`` with the seed
repository's argsort/cumsum ring average around ``((W-1)/2, (H-1)/2)``, then
``interp1d(kind='cubic')`` resampling and division by the first value.
Deliberately unoptimised: it is what ``unmask.features.spectrum`` must reproduce.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import interp1d


def azimuthal_average(image: np.ndarray) -> np.ndarray:
    """Mean of ``image`` per integer-radius ring, as the seed code's ``azimuthalAverage``."""
    y, x = np.indices(image.shape)
    center = np.array([(x.max() - x.min()) / 2.0, (y.max() - y.min()) / 2.0])
    r = np.hypot(x - center[0], y - center[1])
    ind = np.argsort(r.flat)
    r_int = r.flat[ind].astype(int)
    i_sorted = image.flat[ind]
    rind = np.where(r_int[1:] - r_int[:-1])[0]  # last index of each ring
    nr = rind[1:] - rind[:-1]  # pixels per ring (drops ring 0 and the outermost ring)
    csim = np.cumsum(i_sorted, dtype=float)
    return (csim[rind[1:]] - csim[rind[:-1]]) / nr


def log_spectrum(image: np.ndarray) -> np.ndarray:
    """``20 ln |fftshift(fft2(image)) + 1e-8|``."""
    fshift = np.fft.fftshift(np.fft.fft2(image))
    fshift += 1e-8
    return 20 * np.log(np.abs(fshift))


def profile(image: np.ndarray) -> np.ndarray:
    """The 1-D power spectrum of a grayscale image (the ``faces_hq`` feature)."""
    return azimuthal_average(log_spectrum(image))


def interpolate(psd1d: np.ndarray, n: int) -> np.ndarray:
    """Cubic ``interp1d`` from ``linspace(0, n, len)`` to ``linspace(0, n, n)``."""
    points = np.linspace(0, n, num=psd1d.size)
    xi = np.linspace(0, n, num=n)
    return interp1d(points, psd1d, kind="cubic")(xi)


def features(image: np.ndarray, variant: str) -> np.ndarray:
    """The seed code's feature vector for ``faces_hq``, ``celeba`` (80) or ``dfd`` (300)."""
    if variant == "faces_hq":
        return profile(image)
    if variant == "dfd":
        h, w = image.shape[0] // 3, image.shape[1] // 3
        image = image[h:-h, w:-w]
    n = {"celeba": 80, "dfd": 300}[variant]
    interpolated = interpolate(profile(image), n)
    return interpolated / interpolated[0]
