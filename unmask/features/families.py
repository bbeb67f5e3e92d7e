"""Feature families: the paper's gray spectra and the spectra that came after them, one registry.

Each family maps one decoded image (``Decoded``: OpenCV's grayscale decode,
the paper's pixels, and OpenCV's colour decode where a family needs colour) to
a vector. Every spectrum is ``20 ln |F + 1e-8|`` of an rfft2, as the paper's
(``spectrum``), and the families of one image share their work: the gray
spectrum is transformed once and its rings (``faces_hq``, ``celeba``, the Y of
``ycbcr_radial``, ``decay``) and its angle x radius bins (``angular``) come
from one pass over it.

* ``faces_hq``, ``celeba``, ``dfd``: the paper's three variants, exact;
* ``ycbcr_radial``: azimuthal profiles of Y (the gray decode: for a JPEG,
  libjpeg's own Y plane), Cb and Cr concatenated; the chroma planes (JFIF
  full-range BT.601 from the colour decode) are averaged over 2x2 blocks
  first, the resolution a 4:2:0 JPEG stores them at (and a quarter of the cost);
* ``rgb_radial``: azimuthal profiles of R, G and B at full resolution;
* ``angular``: the gray spectrum's mean in 8 orientations (0..180 degrees) x
  32 radius bins (distance from the zero frequency over the Nyquist
  frequency, below 1), the mirror half included;
* ``residual``: the azimuthal profile of the noise residual, the gray image
  minus its 3x3 median (OpenCV's ``medianBlur``, replicated borders);
* ``decay``: per Y, Cb and Cr, the slope and intercept of a least-squares line
  through (ln ring, profile / 20 = mean ln |F|) over the band (default the
  upper quarter of the rings), the fitted high-frequency decay.

With a dataset's ``spectrum_length`` every profile is resampled to that many
points (the paper's advice for mixed sizes): the paper's variants as in the
paper's path, the others after their band.

A band restricts any family to a part of the radius: ring ``i`` of a profile of
``L`` rings (``i`` = 1 .. L) lies at ``i / (L + 1)`` of it, radius bin ``j`` of
``angular`` at ``(j + 0.5) / 32``; the family keeps the columns with
``low <= position < high`` (``decay`` fits over them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

import cv2
import numpy as np

from unmask.features import fourier, spectrum

ANGLES, RADII = 8, 32  # angular bins
DECAY_BAND = (0.75, 1.0)  # decay's default fit range: the upper quarter of the rings
# JFIF (full-range BT.601) chroma from R, G, B.
CB = np.array([-0.168736, -0.331264, 0.5])
CR = np.array([0.5, -0.418688, -0.081312])
_T = TypeVar("_T")


@dataclass(frozen=True)
class Decoded:
    """One image's pixels: OpenCV's grayscale decode and, where a family needs it, its BGR decode."""

    gray: np.ndarray
    colour: np.ndarray | None = None


@dataclass(frozen=True)
class Family:
    """A registered family: how an image (and a band) becomes its vector, and where the idea comes from."""

    name: str
    compute: Callable[[_Shared, tuple[float, float] | None], np.ndarray]
    colour: bool  # needs the colour decode
    papers: tuple[str, ...]


@dataclass(frozen=True)
class Spec:
    """A configured family, optionally restricted to a band of the radius; ``name`` is its column prefix."""

    family: str
    band: tuple[float, float] | None = None

    @property
    def name(self) -> str:
        return self.family if self.band is None else f"{self.family}[{self.band[0]:g}-{self.band[1]:g}]"


def in_band(length: int, band: tuple[float, float] | None) -> np.ndarray:
    """Which of ``length`` rings (ring i at i / (length + 1)) lie in ``band``; all of them without one."""
    if band is None:
        return np.ones(length, dtype=bool)
    position = np.arange(1, length + 1) / (length + 1)
    return (position >= band[0]) & (position < band[1])


def _banded(profile: np.ndarray, band: tuple[float, float] | None, length: int | None = None) -> np.ndarray:
    """The profile's rings in ``band``, resampled to ``length`` points where one is given."""
    kept = profile[in_band(len(profile), band)]
    if kept.size == 0:
        raise spectrum.TooSmall(f"no ring of a profile of {len(profile)} lies in the band {band}")
    return kept if length is None else spectrum.resample(kept, length)


@lru_cache(maxsize=32)
def _angular_codes(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per rfft2 coefficient: 2 * bin + mirrored (a spare code past every bin outside radius 1 and at zero
    frequency), and the full-plane coefficients per bin."""
    ky = np.fft.fftfreq(height)[:, None] * 2  # in units of the Nyquist frequency
    kx = np.fft.rfftfreq(width) * 2
    if width % 2 == 0:
        kx[-1] = -1.0  # the Nyquist column, as fft2 names it
    radius = np.hypot(ky, kx[None, :])
    angle = np.mod(np.arctan2(ky, kx[None, :]), np.pi)
    angle_bin = np.minimum((angle / np.pi * ANGLES).astype(np.intp), ANGLES - 1)
    bins = angle_bin * RADII + (radius * RADII).astype(np.intp)
    mirrored = np.zeros(kx.size, dtype=np.intp)
    mirrored[1 : (width + 1) // 2] = 1
    valid = (radius < 1) & (radius > 0)
    spare = 2 * ANGLES * RADII
    code = np.where(valid, 2 * bins + mirrored[None, :], spare).ravel()
    counts = np.bincount(code, minlength=spare + 1)[:spare]
    return code, counts[0::2] + 2 * counts[1::2]


class _Shared:
    """One image's intermediate results, each computed once for all the families that use it."""

    def __init__(self, decoded: Decoded, angular: bool, length: int | None = None) -> None:
        self.decoded, self._angular, self.length = decoded, angular, length
        self._memo: dict[str, Any] = {}

    def _once(self, key: str, make: Callable[[], _T]) -> _T:
        if key not in self._memo:
            self._memo[key] = make()
        value: _T = self._memo[key]
        return value

    def gray_pass(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The gray azimuthal profile and, when ``angular`` is computed, its bins, from one spectrum."""
        return self._once("gray", self._gray_pass)

    def _gray_pass(self) -> tuple[np.ndarray, np.ndarray | None]:
        gray = self.decoded.gray
        rings = spectrum.rings(*gray.shape)
        codes = [(rings.code, rings.code_ring.size)]
        if self._angular:
            code, _ = _angular_codes(*gray.shape)
            codes.append((code, 2 * ANGLES * RADII + 1))
        tables = spectrum.log_power_sums(fourier.rfft2(gray), spectrum.EPSILON, codes)
        return rings.profile(tables[0]), (tables[1] if self._angular else None)

    def chroma(self) -> list[np.ndarray]:
        """Profiles of Cb and Cr, averaged over 2x2 blocks."""
        return self._once("chroma", lambda: [spectrum.azimuthal_profile(plane) for plane in _cbcr(self.colour)])

    def residual(self) -> np.ndarray:
        """The profile of the gray image minus its 3x3 median."""
        return self._once("residual", self._residual)

    def _residual(self) -> np.ndarray:
        gray = self.decoded.gray
        return spectrum.azimuthal_profile(np.subtract(gray, cv2.medianBlur(gray, 3), dtype=np.float64))

    def rgb(self) -> list[np.ndarray]:
        return self._once("rgb", lambda: [spectrum.azimuthal_profile(self.colour[:, :, c]) for c in (2, 1, 0)])

    @property
    def colour(self) -> np.ndarray:
        if self.decoded.colour is None:
            raise RuntimeError("this family needs the colour decode")
        return self.decoded.colour


def _cbcr(bgr: np.ndarray) -> list[np.ndarray]:
    """Cb and Cr of the means of 2x2 blocks (a last odd row or column dropped): both are linear, so this is the
    2x2 mean of each pixel's Cb and Cr, at a quarter of the arithmetic."""
    h, w = bgr.shape[0] // 2 * 2, bgr.shape[1] // 2 * 2
    means = []
    for plane in cv2.split(bgr[:h, :w]):  # contiguous planes: sums of row pairs, then of column pairs, in uint16
        rows = plane[0::2].astype(np.uint16) + plane[1::2]
        means.append(0.25 * (rows[:, 0::2] + rows[:, 1::2]))
    b, g, r = means
    return [128.0 + (CB[0] * r + CB[1] * g + CB[2] * b), 128.0 + (CR[0] * r + CR[1] * g + CR[2] * b)]


def _variant(name: str) -> Callable[[_Shared, tuple[float, float] | None], np.ndarray]:
    def compute(image: _Shared, band: tuple[float, float] | None) -> np.ndarray:
        variant = spectrum.get_variant(name, image.length)
        if variant.middle_third:
            values = spectrum.features(image.decoded.gray, variant)
        else:
            values = image.gray_pass()[0]
            if variant.length is not None:
                values = spectrum.resample(values, variant.length)
            if variant.normalise:
                values = values / values[0]
        return _banded(values, band)

    return compute


def _ycbcr(image: _Shared, band: tuple[float, float] | None) -> np.ndarray:
    return np.concatenate([_banded(p, band, image.length) for p in [image.gray_pass()[0], *image.chroma()]])


def _rgb(image: _Shared, band: tuple[float, float] | None) -> np.ndarray:
    return np.concatenate([_banded(p, band, image.length) for p in image.rgb()])


def _angular(image: _Shared, band: tuple[float, float] | None) -> np.ndarray:
    table = image.gray_pass()[1]
    if table is None:
        raise RuntimeError("this family needs the angular bins")
    _, counts = _angular_codes(*image.decoded.gray.shape)
    sums = table[0 : 2 * ANGLES * RADII : 2] + 2 * table[1 : 2 * ANGLES * RADII : 2]
    if not counts.all():
        shape = image.decoded.gray.shape
        raise spectrum.TooSmall(f"image of {shape[1]}x{shape[0]} pixels leaves angle x radius bins empty")
    means = (10.0 * sums / counts).reshape(ANGLES, RADII)
    centres = (np.arange(RADII) + 0.5) / RADII
    kept = np.ones(RADII, dtype=bool) if band is None else (centres >= band[0]) & (centres < band[1])
    if not kept.any():
        raise spectrum.TooSmall(f"no radius bin lies in the band {band}")
    vector: np.ndarray = means[:, kept].ravel()
    return vector


def _residual(image: _Shared, band: tuple[float, float] | None) -> np.ndarray:
    return _banded(image.residual(), band, image.length)


def fit_decay(profile: np.ndarray, band: tuple[float, float]) -> tuple[float, float]:
    """Slope and intercept of the least-squares line through (ln ring, profile / 20) over the band's rings."""
    kept = in_band(len(profile), band)
    if kept.sum() < 2:
        raise spectrum.TooSmall(f"fewer than two rings of a profile of {len(profile)} lie in the band {band}")
    x = np.log(np.arange(1, len(profile) + 1)[kept])
    y = profile[kept] / 20.0
    x_centred = x - x.mean()
    slope = float(np.dot(x_centred, y - y.mean()) / np.dot(x_centred, x_centred))
    return slope, float(y.mean() - slope * x.mean())


def _decay(image: _Shared, band: tuple[float, float] | None) -> np.ndarray:
    profiles = [image.gray_pass()[0], *image.chroma()]
    return np.array([value for p in profiles for value in fit_decay(p, band or DECAY_BAND)])


DURALL = "Durall et al. 2019, Unmasking DeepFakes with simple Features (arXiv:1911.00686)"
DURALL_2020 = "Durall et al. 2020, Watch your Up-Convolution (CVPR)"
DZANIC = "Dzanic et al. 2020, Fourier spectrum discrepancies in deep network generated images (NeurIPS)"
LI = "Li et al. 2020, Identification of deep network generated images using disparities in color components (Signal Processing)"
MARRA = "Marra et al. 2019, Do GANs leave artificial fingerprints? (MIPR)"
CORVI = "Corvi et al. 2023, On the detection of synthetic images generated by diffusion models (ICASSP)"
ZHANG = "Zhang et al. 2019, Detecting and Simulating Artifacts in GAN Fake Images (WIFS)"

FAMILIES = {
    family.name: family
    for family in [
        Family("faces_hq", _variant("faces_hq"), False, (DURALL,)),
        Family("celeba", _variant("celeba"), False, (DURALL,)),
        Family("dfd", _variant("dfd"), False, (DURALL,)),
        Family("ycbcr_radial", _ycbcr, True, (DURALL, LI)),
        Family("rgb_radial", _rgb, True, (DURALL_2020, ZHANG)),
        Family("angular", _angular, False, (ZHANG, CORVI)),
        Family("residual", _residual, False, (MARRA, CORVI)),
        Family("decay", _decay, True, (DZANIC,)),
    ]
}


def parse_spec(item: str | dict[str, Any]) -> Spec:
    """A configured family: its name, or ``{family: name, band: [low, high]}``."""
    name, band = (item, None) if isinstance(item, str) else (item["family"], item.get("band"))
    if name not in FAMILIES:
        raise ValueError(f"unknown feature family {name!r}; choose one of {sorted(FAMILIES)}")
    if band is not None:
        band = (float(band[0]), float(band[1]))
        if not 0 <= band[0] < band[1] <= 1:
            raise ValueError(f"the band of {name} must be 0 <= low < high <= 1, got {list(band)}")
    return Spec(name, band)


def band_controls(specs: list[Spec], split: float) -> list[Spec]:
    """The specs, and each whole-radius one again on the low ([0, split)) and high ([split, 1]) part of the radius."""
    controls = [Spec(spec.family, band) for spec in specs if spec.band is None for band in ((0.0, split), (split, 1.0))]
    return specs + [spec for spec in controls if spec not in specs]


def needs_colour(specs: list[Spec]) -> bool:
    """Whether any of ``specs`` needs the colour decode."""
    return any(FAMILIES[spec.family].colour for spec in specs)


def compute(decoded: Decoded, specs: list[Spec], length: int | None = None) -> dict[str, np.ndarray | str]:
    """Each spec's vector (by its name), or the reason it cannot be computed on this image; with ``length``
    (a dataset's ``spectrum_length``) every profile is resampled to that many points after its band."""
    shared = _Shared(decoded, any(spec.family == "angular" for spec in specs), length)
    results: dict[str, np.ndarray | str] = {}
    for spec in specs:
        try:
            results[spec.name] = FAMILIES[spec.family].compute(shared, spec.band)
        except (spectrum.TooSmall, ValueError) as error:
            results[spec.name] = f"{spec.name}: {error}"
    return results
