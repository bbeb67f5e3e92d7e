"""Format facts of image files, per source, and warnings when real and fake sources differ in format.

A spectral classifier sees compression and resampling artefacts as readily as
generator artefacts: if every real image is a JPEG and every fake a PNG, it can
separate them by the container alone. This module reads, per file, the
container format, pixel size, JPEG chroma subsampling and JPEG quality, and
says where the classes differ.

JPEG quality is estimated from the luminance quantisation table: it is compared
with the IJG (libjpeg) standard table scaled to each quality 1..100 (the scaling
libjpeg, OpenCV and Pillow use), and the quality with the smallest mean absolute
difference wins. Files written by IJG-based encoders match one table exactly
(``quality_error`` 0); other encoders (cameras, Photoshop) get the closest IJG
quality and a positive ``quality_error``. With a dataset's ``harmonise``, the
same facts after harmonising say whether it leaves the classes matched.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
from PIL import Image
from PIL.JpegImagePlugin import JpegImageFile

from unmask import LABELS
from unmask.data.harmonise import Harmonise
from unmask.data.images import RejectedImage, probe
from unmask.log import one_line

logger = logging.getLogger(__name__)

QUALITY_TOLERANCE = 2  # estimated qualities this close count as equal

# libjpeg's std_luminance_quant_tbl (ITU T.81 Annex K), natural (row-major) order as Pillow reports it.
IJG_LUMINANCE = np.array(
    [
        16, 11, 10, 16, 24, 40, 51, 61,
        12, 12, 14, 19, 26, 58, 60, 55,
        14, 13, 16, 24, 40, 57, 69, 56,
        14, 17, 22, 29, 51, 87, 80, 62,
        18, 22, 37, 56, 68, 109, 103, 77,
        24, 35, 55, 64, 81, 104, 113, 92,
        49, 64, 78, 87, 103, 121, 120, 101,
        72, 92, 95, 98, 112, 100, 103, 99,
    ]
)  # fmt: skip

# (luma h / chroma h, luma v / chroma v) -> J:a:b notation
SUBSAMPLING: dict[tuple[float, float], str] = {
    (1, 1): "4:4:4",
    (2, 1): "4:2:2",
    (2, 2): "4:2:0",
    (1, 2): "4:4:0",
    (4, 1): "4:1:1",
}


def ijg_table(quality: int, base: np.ndarray = IJG_LUMINANCE) -> np.ndarray:
    """libjpeg's ``jpeg_quality_scaling`` of a base table, clamped to 1..255 (baseline JPEG)."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    table: np.ndarray = np.clip((base * scale + 50) // 100, 1, 255)
    return table


@lru_cache(maxsize=1)
def _ijg_tables() -> np.ndarray:
    return np.stack([ijg_table(q) for q in range(1, 101)])


def estimate_quality(luminance_table: Iterable[int]) -> tuple[int, float]:
    """The IJG quality (1..100) whose luminance table is closest, and the mean absolute difference."""
    table = np.asarray(list(luminance_table), dtype=np.float64)
    if table.shape != (64,):
        raise ValueError(f"a quantisation table has 64 entries, got {table.size}")
    errors = np.abs(_ijg_tables() - table).mean(axis=1)
    best = int(np.argmin(errors))
    return best + 1, float(errors[best])


def chroma_subsampling(layers: list[tuple[int, int, int, int]]) -> str:
    """J:a:b subsampling from Pillow's JPEG ``layer`` list of (component id, h, v, table); 'gray' for one component."""
    if len(layers) == 1:
        return "gray"
    factors = [(h, v) for _, h, v, _ in layers]
    (luma_h, luma_v), chroma = factors[0], set(factors[1:3])
    if len(layers) == 3 and len(chroma) == 1:
        chroma_h, chroma_v = chroma.pop()
        ratio = (luma_h / chroma_h, luma_v / chroma_v)
        if ratio in SUBSAMPLING:
            return SUBSAMPLING[ratio]
    return " ".join(f"{h}x{v}" for h, v in factors)


@dataclass(frozen=True)
class FormatFacts:
    """What a file's container says about how it was made; JPEG fields are None for other formats."""

    format: str
    width: int
    height: int
    subsampling: str | None = None
    quality: int | None = None
    quality_error: float | None = None  # mean |table - IJG table|; 0 for IJG encoders


def format_facts(path: str | Path) -> FormatFacts:
    """Format, size and (for JPEG) subsampling and estimated quality of one file; ``RejectedImage`` if unreadable."""
    info = probe(path)
    if info.format != "JPEG":
        return FormatFacts(info.format, info.width, info.height)
    with Image.open(path) as opened:
        image = cast(JpegImageFile, opened)  # probe read it as a JPEG; Image.open is annotated as any ImageFile
        subsampling = chroma_subsampling(image.layer)
        quality, error = estimate_quality(image.quantization[image.layer[0][3]])
    return FormatFacts(info.format, info.width, info.height, subsampling, quality, error)


def after_harmonising(facts: FormatFacts, harmonise: Harmonise) -> FormatFacts | None:
    """What an image's facts become when harmonised (``unmask.data.harmonise``); None where it is rejected."""
    width, height = facts.width, facts.height
    if harmonise.crop is not None:
        if min(width, height) < harmonise.crop and harmonise.resample is None:
            return None
        width = height = harmonise.crop
    if harmonise.jpeg_quality is not None:
        return FormatFacts("JPEG", width, height, "4:2:0", harmonise.jpeg_quality, 0.0)
    return dataclasses.replace(facts, width=width, height=height)


def describe(counts: Counter[Any]) -> str:
    """'JPEG' for one value, else 'JPEG 60%, PNG 40%' (most common first)."""
    if len(counts) == 1:
        return str(next(iter(counts)))
    total = sum(counts.values())
    return ", ".join(f"{value} {100 * n / total:.0f}%" for value, n in counts.most_common())


@dataclass
class SourceSummary:
    """Counts of format facts over the files of one source (or of one class)."""

    sources: list[str]
    label: int
    files: int = 0  # every file the sources offered, used or rejected
    rejected: int = 0  # rows in rejects.csv
    formats: Counter[str] = field(default_factory=Counter)
    sizes: Counter[str] = field(default_factory=Counter)  # 'WxH'
    subsampling: Counter[str | None] = field(default_factory=Counter)
    qualities: Counter[int] = field(default_factory=Counter)

    def add(self, facts: FormatFacts) -> None:
        self.formats[facts.format] += 1
        self.sizes[f"{facts.width}x{facts.height}"] += 1
        if facts.format == "JPEG":
            self.subsampling[facts.subsampling] += 1
            assert facts.quality is not None, "a JPEG's facts hold its estimated quality"
            self.qualities[facts.quality] += 1

    def merge(self, other: SourceSummary) -> None:
        self.sources += other.sources
        self.files += other.files
        self.rejected += other.rejected
        for mine, theirs in zip(self._counters(), other._counters()):
            mine.update(theirs)

    def _counters(self) -> tuple[Counter[Any], ...]:
        return self.formats, self.sizes, self.subsampling, self.qualities

    @property
    def median_quality(self) -> float | None:
        return statistics.median(self.qualities.elements()) if self.qualities else None

    def describe_formats(self) -> str:
        """Formats, with the median JPEG quality: 'JPEG (q~75)', 'PNG', 'JPEG 50% (q~90), PNG 50%'."""
        names = {"JPEG": f"JPEG (q~{self.median_quality:g})"} if self.qualities else {}
        return describe(Counter({names.get(name, name): n for name, n in self.formats.items()}))

    def row(self) -> dict[str, object]:
        """One table row: source names, label, counts and the described distributions."""
        return {
            "source": ", ".join(self.sources),
            "label": self.label,
            "files": self.files,
            "rejected": self.rejected,
            "format": describe(self.formats),
            "size": describe(self.sizes),
            "subsampling": describe(self.subsampling) if self.subsampling else None,
            "quality_median": self.median_quality,
            "quality_min": min(self.qualities) if self.qualities else None,
            "quality_max": max(self.qualities) if self.qualities else None,
        }


def _label(value: int | str) -> int:
    label = LABELS.get(value, value) if isinstance(value, str) else value
    if label not in (0, 1):
        raise ValueError(f"label must be 0/'real' or 1/'fake', got {value!r}")
    return int(label)


def summarize_sources(
    items: Iterable[tuple[str, int | str, str | Path | None]],
    rejects: Iterable[tuple[str, str]] = (),
    labels: Mapping[str, int | str] | None = None,
    harmonise: Harmonise | None = None,
) -> list[SourceSummary]:
    """Per-source summaries from the manifest's (source, label, path) items and the (source, stage) rows of rejects.csv.

    An item whose path is None (rejected after the manifest) is counted, but its file is not read.

    ``files`` counts what a source offered: its manifest items and the files
    rejected before the manifest (every stage but ``features``); ``rejected``
    counts its rows in rejects.csv, so the audit and rejects.csv agree. Format
    facts describe the manifest items. ``labels`` (source -> label) names the
    sources whose every file was rejected; in order of first appearance, then
    the sources only ``labels`` names. With ``harmonise``, the facts are those
    after harmonising, and images it would reject are left out.
    """
    summaries: dict[str, SourceSummary] = {}

    def summary_of(source: str, label: int | str | None) -> SourceSummary:
        if source not in summaries:
            known = labels or {}
            if label is None and source not in known:
                raise ValueError(f"rejects name source {source!r}, which has no label")
            summaries[source] = SourceSummary([source], _label(known[source] if label is None else label))
        summary = summaries[source]
        if label is not None and summary.label != _label(label):
            raise ValueError(f"source {source!r} has files labelled both real and fake")
        return summary

    for source, label, path in items:
        summary = summary_of(source, label)
        summary.files += 1
        if path is None:  # rejected after the manifest (rejects.csv says why): its file is not read
            continue
        try:
            read = format_facts(path)
            facts = read if harmonise is None else after_harmonising(read, harmonise)
            if facts is not None:
                summary.add(facts)
        except (RejectedImage, OSError) as error:  # changed since the features stage read it
            logger.warning(one_line(f"audit: {path} is unreadable now ({error}); its format facts are left out"))
    for source, stage in rejects:
        summary = summary_of(source, None)
        summary.rejected += 1
        summary.files += stage != "features"  # a file rejected by the features stage is one of the manifest items
    for source, label in (labels or {}).items():
        summary_of(source, label)
    return list(summaries.values())


def _by_class(summaries: Iterable[SourceSummary]) -> dict[int, SourceSummary]:
    """One merged summary per label present."""
    classes: dict[int, SourceSummary] = {}
    for summary in summaries:
        classes.setdefault(summary.label, SourceSummary([], summary.label)).merge(summary)
    return classes


def _warning(real: SourceSummary, fake: SourceSummary, real_text: str, fake_text: str, what: str) -> str:
    return (
        f"real sources ({', '.join(real.sources)}) are {real_text} but fake sources ({', '.join(fake.sources)}) "
        f"are {fake_text}: a spectral classifier may learn the {what} instead of the generator"
    )


def confound_warnings(summaries: Iterable[SourceSummary]) -> list[str]:
    """Human-readable warnings where real and fake sources differ in format, size, subsampling or JPEG quality.

    Format, size and subsampling warn when a value occurs in one class only;
    quality when the classes' median qualities differ by more than
    ``QUALITY_TOLERANCE``. Subsampling and quality are compared only when
    both classes hold JPEGs.
    """
    classes = _by_class(summaries)
    if set(classes) != {0, 1}:
        return []
    real, fake = classes[0], classes[1]
    warnings = []
    if set(real.formats) != set(fake.formats):
        warnings.append(_warning(real, fake, real.describe_formats(), fake.describe_formats(), "container"))
    if set(real.sizes) != set(fake.sizes):
        warnings.append(_warning(real, fake, describe(real.sizes), describe(fake.sizes), "image size"))
    real_quality, fake_quality = real.median_quality, fake.median_quality  # None: no JPEG
    if real_quality is not None and fake_quality is not None:
        if set(real.subsampling) != set(fake.subsampling):
            real_text, fake_text = (f"JPEG {describe(summary.subsampling)}" for summary in (real, fake))
            warnings.append(_warning(real, fake, real_text, fake_text, "chroma subsampling"))
        if abs(real_quality - fake_quality) > QUALITY_TOLERANCE:
            warnings.append(
                _warning(real, fake, f"JPEG q~{real_quality:g}", f"JPEG q~{fake_quality:g}", "JPEG quality")
            )
    return warnings
