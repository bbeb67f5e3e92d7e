"""A model's training domain: the images it was fitted on, and how far an input lies from them.

An image's spectrum depends on its size, its last encoding and whether it is a
face crop as much as on what made it. A model fitted on 128 px PNGs has never
seen the spectrum of a 1024 px JPEG: its answer there is a guess, however
confident. So the model file records the domain at fit time (``training_domain``),
and ``unmask predict`` compares every input with it (``compare``):

* outside the domain (``"in_domain": false`` with the reasons in ``"why"``):
  a width or height outside the training range, a format that no training
  image had, a JPEG quality outside the training range (beyond
  ``QUALITY_TOLERANCE``), a face crop where the model saw whole images or the
  reverse;
* far outside (refused unless ``--allow-out-of-domain``): a side more than
  ``SIZE_CLASS`` times beyond the training range (another size class), or, for
  a model on native-length spectra, another native length: its spectrum would
  be resampled onto frequencies the model never saw.

``families`` and ``harmonise`` are reserved for the feature families and the
harmonising of the last encoding (recorded by them when they are used).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from unmask.data.audit import format_facts
from unmask.data.images import DECODER_ERRORS
from unmask.features.spectrum import Variant, native_length

SIZE_CLASS = 2  # a side more than twice beyond the training range is another size class
QUALITY_TOLERANCE = 2  # the audit's: estimated JPEG qualities this close count as equal

_RANGE = {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 1 << 20}, "minItems": 2, "maxItems": 2}
DOMAIN_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["width", "height", "formats", "jpeg_quality", "face_crops", "native_length"],
    "properties": {
        "width": dict(_RANGE, description="[smallest, largest] width of the training images, pixels"),
        "height": dict(_RANGE, description="[smallest, largest] height of the training images, pixels"),
        "formats": {"type": "array", "items": {"type": "string", "maxLength": 20}, "maxItems": 10},
        "jpeg_quality": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1, "maximum": 100},
                    "minItems": 2,
                    "maxItems": 2,
                },
            ],
            "description": "[lowest, highest] estimated quality of the training JPEGs; null: no JPEG",
        },
        "face_crops": {"type": "boolean", "description": "the training images were face crops"},
        "native_length": dict(_RANGE, description="[shortest, longest] spectrum of the training images, unresampled"),
        "families": {"description": "reserved: the feature families"},
        "harmonise": {"description": "reserved: the harmonised size and last encoding"},
    },
}


@dataclass(frozen=True)
class Facts:
    """What is compared of one input: the size of the image its features come from, its format and quality."""

    width: int
    height: int
    format: str | None = None  # None: not known (a pipe)
    quality: int | None = None  # estimated JPEG quality
    face_crop: bool = False


def jpeg_qualities(paths: list[str]) -> list[int]:
    """The estimated quality of each JPEG (from its quantisation table; a file unreadable now is left out)."""
    qualities = []
    for path in paths:
        try:
            quality = format_facts(path).quality
        except (*DECODER_ERRORS, KeyError, IndexError, TypeError):  # changed since the manifest read it, or odd
            continue
        if quality is not None:  # None: no longer a JPEG
            qualities.append(quality)
    return qualities


def training_domain(
    sizes: list[tuple[int, int]],
    formats: list[str],
    qualities: list[int],
    face_crops: bool,
    variant: Variant,
) -> dict[str, Any]:
    """The domain of training images of ``sizes`` ((width, height) each), ``formats`` and JPEG ``qualities``."""
    widths, heights = [w for w, _ in sizes], [h for _, h in sizes]
    lengths = [native_length(h, w, variant) for w, h in set(sizes)]
    return {
        "width": [min(widths), max(widths)],
        "height": [min(heights), max(heights)],
        "formats": sorted(set(formats)),
        "jpeg_quality": [min(qualities), max(qualities)] if qualities else None,
        "face_crops": face_crops,
        "native_length": [min(lengths), max(lengths)],
    }


def _span(values: list[int], unit: str = "") -> str:
    return f"{values[0]}{unit}" if values[0] == values[1] else f"{values[0]}-{values[1]}{unit}"


def compare(domain: dict[str, Any], facts: Facts, variant: Variant, feature_length: int) -> tuple[dict[str, str], bool]:
    """Why ``facts`` lie outside ``domain``, by aspect (size, length, format, quality, crop; empty: inside), and
    whether far outside (see the module docstring)."""
    why, far = {}, False
    (w0, w1), (h0, h1) = domain["width"], domain["height"]
    if not (w0 <= facts.width <= w1 and h0 <= facts.height <= h1):
        trained = f"{w0}x{h0}" if (w0, h0) == (w1, h1) else f"{_span([w0, w1])} x {_span([h0, h1])}"
        why["size"] = f"{facts.width}x{facts.height} px; trained on {trained}"
        sides, lowest, highest = (facts.width, facts.height), min(w0, h0), max(w1, h1)
        far = min(sides) * SIZE_CLASS < lowest or max(sides) > highest * SIZE_CLASS
    lengths = domain["native_length"]
    if lengths == [feature_length, feature_length]:  # trained on unresampled spectra: the length must match
        length = native_length(facts.height, facts.width, variant)
        if length != feature_length:
            why["length"] = f"a native spectrum of {length} values; trained on {feature_length}"
            far = True
    if facts.format is not None and facts.format not in domain["formats"]:
        why["format"] = f"{facts.format}; trained on {', '.join(domain['formats'])}"
    quality = domain["jpeg_quality"]
    if facts.quality is not None and quality is not None:
        if not quality[0] - QUALITY_TOLERANCE <= facts.quality <= quality[1] + QUALITY_TOLERANCE:
            why["quality"] = f"JPEG quality ~{facts.quality}; trained on {_span(quality)}"
    if facts.face_crop != domain["face_crops"]:
        crop = "a face crop; trained on whole images" if facts.face_crop else "a whole image; trained on face crops"
        why["crop"] = crop
    return why, far
