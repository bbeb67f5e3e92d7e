"""Perturbations of decoded images (uint8, grayscale or BGR) applied before the features.

Each takes an image and one strength and returns an image of the same shape
and dtype. ``parse_perturbation`` turns names such as ``jpeg:70``,
``scale:0.5``, ``blur:1.0`` or ``noise:5`` into a callable ``Perturbation``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np


def _uint8_image(image: np.ndarray) -> np.ndarray:
    """``image`` if it is a decoded image (uint8, 2-D gray or 3-D BGR), else a ValueError."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"expected a decoded uint8 image, got {image.dtype} of shape {image.shape}")
    return image


def check_quality(quality: float) -> int:
    """A JPEG quality as an int in 1..100."""
    if not 1 <= quality <= 100 or quality != round(quality):
        raise ValueError(f"JPEG quality must be an integer in 1..100, got {quality}")
    return int(quality)


def check_factor(factor: float) -> float:
    """A down-scaling factor in (0, 1]."""
    if not 0 < factor <= 1:
        raise ValueError(f"scale factor must be in (0, 1], got {factor}")
    return float(factor)


def check_sigma(sigma: float) -> float:
    """A standard deviation > 0."""
    if not 0 < sigma < np.inf:
        raise ValueError(f"sigma must be a positive number, got {sigma}")
    return float(sigma)


MAX_BLUR = 100.0  # pixels: a wider kernel blurs any face to a flat patch, and takes minutes per image


def check_blur_sigma(sigma: float) -> float:
    """A blur's standard deviation in pixels, > 0 and at most ``MAX_BLUR``."""
    if check_sigma(sigma) > MAX_BLUR:
        raise ValueError(f"blur sigma must be at most {MAX_BLUR:g} pixels, got {sigma:g}")
    return float(sigma)


def encode_jpeg(image: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of an image at ``quality`` (colour with 4:2:0 chroma subsampling, pinned)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, check_quality(quality)]  # a [flag, value] pair, as OpenCV wants it
    params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420]
    ok, encoded = cv2.imencode(".jpg", _uint8_image(image), params)
    if not ok:
        raise ValueError(f"OpenCV cannot encode an image of shape {image.shape} as JPEG")
    return encoded.tobytes()


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """The image after one JPEG encode/decode round at ``quality``."""
    decoded = cv2.imdecode(np.frombuffer(encode_jpeg(image, quality), np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise ValueError(f"OpenCV cannot decode its own JPEG of an image of shape {image.shape}")
    return decoded


def scale(image: np.ndarray, factor: float) -> np.ndarray:
    """Down-scale by ``factor`` (area averaging), then back up to the original size (bicubic)."""
    image = _uint8_image(image)
    height, width = image.shape[:2]
    small = (max(1, round(width * check_factor(factor))), max(1, round(height * factor)))
    return cv2.resize(
        cv2.resize(image, small, interpolation=cv2.INTER_AREA), (width, height), interpolation=cv2.INTER_CUBIC
    )


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` pixels (kernel size from sigma, reflected borders)."""
    return cv2.GaussianBlur(_uint8_image(image), (0, 0), sigmaX=check_blur_sigma(sigma), sigmaY=sigma)


def noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian noise of std ``sigma`` grey levels, rounded and clipped to 0..255.

    Give each image its own generator (e.g. ``default_rng([seed, index])``):
    one pattern shared by all images would itself be a spectral signature.
    """
    image = _uint8_image(image)
    noisy = image + rng.normal(0.0, check_sigma(sigma), size=image.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class _Kind:
    apply: Callable[..., np.ndarray]
    check: Callable[[float], float]
    example: str
    needs_rng: bool = False


KINDS = {
    "jpeg": _Kind(jpeg, check_quality, "jpeg:70 (quality 1..100)"),
    "scale": _Kind(scale, check_factor, "scale:0.5 (factor in (0, 1])"),
    "blur": _Kind(blur, check_blur_sigma, "blur:1.0 (sigma in pixels, at most 100)"),
    "noise": _Kind(noise, check_sigma, "noise:5 (sigma in grey levels)", needs_rng=True),
}


@dataclass(frozen=True)
class Perturbation:
    """One perturbation with its strength, e.g. ``Perturbation('jpeg', 70)``; both are checked."""

    kind: str
    strength: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown perturbation kind {self.kind!r}; choose one of {sorted(KINDS)}")
        object.__setattr__(self, "strength", KINDS[self.kind].check(self.strength))

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.strength:g}"

    def __call__(self, image: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Apply to one image; ``noise`` needs ``rng``, the others ignore it."""
        kind = KINDS[self.kind]
        if not kind.needs_rng:
            return kind.apply(image, self.strength)
        if rng is None:
            raise ValueError(f"{self.name} needs a random generator: pass rng=np.random.default_rng([seed, index])")
        return kind.apply(image, self.strength, rng)


def parse_perturbation(text: str) -> Perturbation:
    """A ``Perturbation`` from ``kind:strength``; a ValueError names the problem and the valid forms."""
    kind, separator, value = text.partition(":")
    if kind not in KINDS or not separator:
        forms = "; ".join(entry.example for entry in KINDS.values())
        raise ValueError(f"unknown perturbation {text!r}: write one of {forms}")
    try:
        strength = float(value)
    except ValueError:
        raise ValueError(f"perturbation {text!r}: {value!r} is not a number; write {KINDS[kind].example}") from None
    try:
        return Perturbation(kind, strength)
    except ValueError as error:
        raise ValueError(f"perturbation {text!r}: {error}; write {KINDS[kind].example}") from None


def parse_perturbations(names: list[str]) -> list[Perturbation]:
    """Perturbations from names such as ``jpeg:70``; duplicates are an error."""
    perturbations = [parse_perturbation(name) for name in names]
    if len({p.name for p in perturbations}) < len(perturbations):
        raise ValueError(f"perturbations listed twice in {names}")
    return perturbations
