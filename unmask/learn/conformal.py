"""Conformal calibration on a user's own real images: a p-value per input, and its label at a chosen false-positive rate.

``unmask calibrate`` stores the decision values of n real images (the
calibration set, sorted). The p-value of an input with decision value s
(higher = more fake) is ``(1 + #{real >= s}) / (n + 1)``: the share of the
calibration images that scored at least as high, the input counted among
them. An input is labelled fake where its p-value is at most the chosen
false-positive rate ``fpr``.

The promise: if a new real image and the n calibration images are
exchangeable (drawn the same way, from the same camera, processing, sizes and
formats), its p-value is at most ``fpr`` with probability at most ``fpr``. So
at most a share ``fpr`` of such real images is called fake, on average over
calibration sets (Vovk, Gammerman and Shafer 2005). It says nothing about real
images of another kind (another camera, an edit, a recompression) and nothing
about how many fakes are caught.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

MAX_SCORES = 100_000  # calibration images kept; the promise needs n >= 1/fpr - 1, e.g. 99 at fpr 0.01


def needed(fpr: float) -> int:
    """The fewest calibration images with which an input can be labelled fake at ``fpr`` (p >= 1 / (n + 1))."""
    return math.ceil(1 / fpr - 1 - 1e-9)


@dataclass(frozen=True)
class Conformal:
    """The sorted decision values of real calibration images and the chosen false-positive rate."""

    method: ClassVar[str] = "conformal"
    scores: np.ndarray
    fpr: float

    @classmethod
    def fit(cls, decisions: ArrayLike, fpr: float) -> Conformal:
        """A calibration from the decision values of real images; ``ValueError`` when too few or not finite."""
        scores = np.sort(np.asarray(decisions, dtype=np.float64))
        if not np.isfinite(scores).all():
            raise ValueError("a decision value of a calibration image is not finite")
        if not 0 < fpr < 1:
            raise ValueError(f"the false-positive rate must be between 0 and 1, got {fpr}")
        if len(scores) < needed(fpr):
            raise ValueError(
                f"{len(scores)} real images cannot support a false-positive rate of {fpr}: "
                f"it needs at least {needed(fpr)} (the smallest p-value is 1 / (n + 1))"
            )
        if len(scores) > MAX_SCORES:
            raise ValueError(f"{len(scores)} real images: at most {MAX_SCORES} are kept; choose a sample")
        return cls(scores, float(fpr))

    @property
    def n(self) -> int:
        return len(self.scores)

    def p_values(self, decisions: ArrayLike) -> np.ndarray:
        """``(1 + #{calibration >= s}) / (n + 1)`` for each decision value s."""
        at_least = self.n - np.searchsorted(self.scores, np.asarray(decisions, dtype=np.float64), side="left")
        return (1.0 + at_least) / (self.n + 1.0)

    def is_fake(self, p_values: ArrayLike) -> np.ndarray:
        """1 (fake) where the p-value is at most the false-positive rate, else 0."""
        return (np.asarray(p_values) <= self.fpr).astype(np.int8)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "fpr": self.fpr, "n": self.n, "scores": self.scores.tolist()}
