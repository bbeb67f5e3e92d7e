"""The paper's spectral features: pure array functions, no file I/O.

A grayscale image goes through a 2-D DFT; the log magnitude ``20 ln |F|`` is
averaged over integer-radius rings around the spectrum's centre (the
azimuthal average, a 1-D power spectrum). The three variants of the seed
paper differ only in cropping, resampling and normalisation:

* ``faces_hq``: the full profile (722 values at 1024x1024), not normalised;
* ``celeba``:   the profile resampled to 80 points, divided by its first value;
* ``dfd``:      the middle third of the image, resampled to 300 points,
                divided by its first value.

The profile equals the seed code's ``azimuthalAverage`` (fft2 -> fftshift ->
+1e-8 -> argsort over radii) but is computed from one real FFT (``unmask.features.fourier``,
single-threaded) with ring indices cached per image shape, which is an order
of magnitude faster.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from unmask.features import fourier

EPSILON = 1e-8  # added to the complex spectrum before the log, as in the seed code


@dataclass(frozen=True)
class Variant:
    """How a profile becomes a feature vector."""

    name: str
    middle_third: bool
    length: int | None  # resample to this many points; None keeps the native length
    normalise: bool  # divide by the first value


VARIANTS = {
    "faces_hq": Variant("faces_hq", middle_third=False, length=None, normalise=False),
    "celeba": Variant("celeba", middle_third=False, length=80, normalise=True),
    "dfd": Variant("dfd", middle_third=True, length=300, normalise=True),
}


class TooSmall(ValueError):
    """An image too small for a variant's features."""


def get_variant(name: str, length: int | None = None) -> Variant:
    """The named variant, optionally with its output length overridden."""
    try:
        variant = VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown feature variant {name!r}; choose one of {sorted(VARIANTS)}") from None
    if length is not None:
        variant = Variant(variant.name, variant.middle_third, length, variant.normalise)
    return variant


_BLOCK = 1 << 15  # spectrum coefficients per cache-sized block
_NO_MIRROR = 5  # slot of a coefficient without a mirror; slots 0..4 hold (mirror ring - ring + 2)


@dataclass(frozen=True)
class _Rings:
    """Where each real-FFT coefficient's log magnitude goes in the ring sums.

    rfft2 columns 1 .. ceil(W/2)-1 stand for two coefficients each, (ky, kx)
    and its Hermitian mirror (-ky, -kx) of equal magnitude, which may lie in a
    ring up to two away. One bincount over ``code = 6 * ring + slot`` gathers
    the whole spectrum; a tiny second pass credits each code's total to its
    ring and to its mirror's ring.
    """

    code: np.ndarray  # (H*(W//2+1),) 6 * ring + slot of each rfft2 coefficient
    code_ring: np.ndarray  # ring of each code
    code_mirror: np.ndarray  # mirror ring of each code (a spare empty bin for _NO_MIRROR)
    n_bins: int  # length of the ring sums, spare bin included
    inverse_counts: np.ndarray  # 1 / pixels per kept ring
    keep: np.ndarray  # ring numbers kept in the profile

    def log_sums(self, spectrum: np.ndarray, offset: float) -> np.ndarray:
        """Per-ring sums of ``2 ln |spectrum + offset|`` over the full plane, from an rfft2-shaped spectrum
        (overwritten, see ``log_power_sums``)."""
        return self.ring_sums(log_power_sums(spectrum, offset, [(self.code, self.code_ring.size)])[0])

    def ring_sums(self, table: np.ndarray) -> np.ndarray:
        """Per-ring sums from the sums per code: each code's total goes to its ring and its mirror's ring."""
        sums = np.bincount(self.code_ring, table, minlength=self.n_bins)
        sums += np.bincount(self.code_mirror, table, minlength=self.n_bins)
        return sums

    def profile(self, table: np.ndarray) -> np.ndarray:
        """The azimuthal profile (mean ``20 ln |F|`` per kept ring) from the sums per code."""
        profile: np.ndarray = self.ring_sums(table)[self.keep] * (10.0 * self.inverse_counts)
        return profile


def log_power_sums(spectrum: np.ndarray, offset: float, codes: list[tuple[np.ndarray, int]]) -> list[np.ndarray]:
    """Sums of ``2 ln |spectrum + offset|`` per code, for each (code per rfft2 coefficient, number of codes).

    One pass serves every code table. ``spectrum`` is overwritten: blocks of its
    rows are squared in place and stay in cache through the log and the bincounts.
    """
    rows = max(1, _BLOCK // spectrum.shape[1])
    shaped = [code.reshape(spectrum.shape) for code, _ in codes]
    tables = [np.zeros(size) for _, size in codes]
    scratch = np.empty((rows, spectrum.shape[1]))
    for start in range(0, spectrum.shape[0], rows):
        parts = spectrum[start : start + rows].view(np.float64)  # real, imaginary, real, ...
        parts[:, 0::2] += offset
        np.square(parts, out=parts)
        logs = scratch[: len(parts)]
        np.add(parts[:, 0::2], parts[:, 1::2], out=logs)
        np.log(logs, out=logs)
        for table, code in zip(tables, shaped):
            table += np.bincount(code[start : start + rows].ravel(), logs.ravel(), minlength=table.size)
    return tables


@lru_cache(maxsize=32)
def rings(height: int, width: int) -> _Rings:
    """Ring geometry for one image shape (cached: shards hold few shapes)."""
    if height < 3 or width < 3:
        raise ValueError(f"image of {width}x{height} pixels is too small for a spectrum")
    # Integer frequencies of the rfft2 rows and columns, as placed after fftshift.
    ky = np.fft.fftfreq(height, 1.0 / height).round().astype(np.intp)
    kx = np.arange(width // 2 + 1, dtype=np.intp)
    if width % 2 == 0:
        kx[-1] = -(width // 2)  # the Nyquist column sits at the left edge of the shifted plane

    def ring(fy: np.ndarray, fx: np.ndarray) -> np.ndarray:
        # Distance from the seed code's centre ((W-1)/2, (H-1)/2) in shifted pixel coordinates.
        y = fy + height // 2 - (height - 1) / 2.0
        x = fx + width // 2 - (width - 1) / 2.0
        return np.hypot(x[None, :], y[:, None]).astype(np.intp)

    def wrap(f: np.ndarray, n: int) -> np.ndarray:
        return (f + n // 2) % n - n // 2

    direct = ring(ky, kx)
    mirror = ring(wrap(-ky, height), wrap(-kx, width))
    mirrored = np.zeros(kx.size, dtype=bool)
    mirrored[1 : (width + 1) // 2] = True
    # The centre is off the zero frequency by at most half a pixel per axis, so |mirror - direct| <= 2.
    slot = np.where(mirrored, mirror - direct + 2, _NO_MIRROR)
    code = (6 * direct + slot).ravel()

    code_ring, code_slot = np.divmod(np.arange(6 * (direct.max() + 1)), 6)
    spare = direct.max() + 3  # past every mirror ring
    code_mirror = np.where(code_slot == _NO_MIRROR, spare, code_ring + code_slot - 2).clip(0)
    counts = np.bincount(direct.ravel(), minlength=spare + 1)
    counts += np.bincount(mirror[:, mirrored].ravel(), minlength=spare + 1)
    occupied = np.flatnonzero(counts)
    if occupied.size < 3:
        raise ValueError(f"image of {width}x{height} pixels is too small for a spectrum")
    keep = occupied[1:-1]  # drop the centre ring and the outermost ring, as the seed code does
    return _Rings(code, code_ring, code_mirror, spare + 1, 1.0 / counts[keep], keep)


def azimuthal_profile(image: np.ndarray) -> np.ndarray:
    """Mean log magnitude per integer-radius ring, rings 1 .. r_max-1 (the paper's 1-D spectrum)."""
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D grayscale image, got shape {image.shape}")
    geometry = rings(*image.shape)
    profile: np.ndarray = geometry.log_sums(fourier.rfft2(image), EPSILON)[geometry.keep] * (
        10.0 * geometry.inverse_counts
    )
    return profile


@lru_cache(maxsize=64)
def _resampling_matrix(source_length: int, target_length: int) -> np.ndarray:
    """The linear map of a not-a-knot cubic spline from ``source`` to ``target`` points.

    Source points sit at ``linspace(0, T, source)`` and targets at
    ``linspace(0, T, target)`` (T = target length), as in the seed code's
    ``interp1d(kind='cubic')``. Resampling is linear in the data, so one
    matrix serves every spectrum of a given length.
    """
    from scipy.interpolate import make_interp_spline  # 0.3 s to import: only where spectra are resampled

    if source_length < 4:
        raise TooSmall(f"a profile of {source_length} values is too short to resample")
    x = np.linspace(0, target_length, source_length)
    spline = make_interp_spline(x, np.eye(source_length), k=3)
    matrix: np.ndarray = spline(np.linspace(0, target_length, target_length))
    return matrix


def resample(profile: np.ndarray, length: int) -> np.ndarray:
    """Resample 1-D spectra (the last axis) to ``length`` points: use this, never resize images."""
    profile = np.asarray(profile, dtype=np.float64)
    if profile.shape[-1] == length:
        return profile.copy()
    resampled: np.ndarray = profile @ _resampling_matrix(profile.shape[-1], length).T
    return resampled


def middle_third(image: np.ndarray) -> np.ndarray:
    """The central third of an image in each direction (the seed code's DFD crop)."""
    h, w = image.shape[0] // 3, image.shape[1] // 3
    if h == 0 or w == 0:
        raise TooSmall(f"image of {image.shape[1]}x{image.shape[0]} pixels is too small to take its middle third")
    return image[h:-h, w:-w]


def features(image: np.ndarray, variant: Variant | str) -> np.ndarray:
    """The feature vector of one grayscale image under a variant."""
    if isinstance(variant, str):
        variant = get_variant(variant)
    if variant.middle_third:
        image = middle_third(image)
    profile = azimuthal_profile(image)
    if variant.length is not None:
        profile = resample(profile, variant.length)
    if variant.normalise:
        profile = profile / profile[0]
    return profile


def check_compatible(features: dict[str, tuple[str, int | None]]) -> None:
    """Refuse datasets whose features differ in variant or length (a length of None is not known yet)."""
    variants = {variant for variant, _ in features.values()}
    lengths = {length for _, length in features.values() if length is not None}
    if len(variants) > 1 or len(lengths) > 1:
        described = ", ".join(
            f"{name} has {variant} features of length {length or 'set by its images'}"
            for name, (variant, length) in features.items()
        )
        raise ValueError(
            f"cross-dataset generalisation needs one feature variant and one length, but {described}; "
            "give these datasets one `variant` and one `spectrum_length`"
        )


def native_length(height: int, width: int, variant: Variant) -> int:
    """The length of a ``height`` x ``width`` image's profile under ``variant`` before any resampling."""
    if variant.middle_third:
        height, width = height - 2 * (height // 3), width - 2 * (width // 3)
    return len(rings(height, width).keep)
