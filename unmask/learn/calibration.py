"""Calibration: p_fake from a decision value (Platt scaling), and how far to trust it (Brier score, reliability).

Platt scaling maps a decision value d ("higher = more fake") to
``p_fake = 1 / (1 + exp(a d + b))`` (Platt's convention). A slope ``a < 0``
makes p_fake rise with the decision value. A fit whose slope comes out with
the wrong sign (``a > 0``: on held-out items, higher decisions were *less*
often fake) is corrected to ``a = 0``, the best fit with a slope of the right
sign: p_fake is then the smoothed fraction of fakes for every input. A warning
says so in the log.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize
from scipy.special import expit, logit
from sklearn.calibration import calibration_curve
from sklearn.metrics import brier_score_loss

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Platt:
    """Platt scaling: ``p_fake = 1 / (1 + exp(a d + b))`` of the decision value d."""

    method: ClassVar[str] = "platt"
    a: float
    b: float

    def __call__(self, decision: ArrayLike) -> np.ndarray:
        p_fake: np.ndarray = expit(-(self.a * np.asarray(decision, dtype=np.float64) + self.b))
        return p_fake


def _two_classes(decision: ArrayLike, y: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    decision, y = np.asarray(decision, dtype=np.float64), np.asarray(y)
    if decision.shape != y.shape or set(np.unique(y)) != {0, 1}:
        raise ValueError("calibration needs decision values and labels of one length, with both 0 and 1 present")
    return decision, y


def fit_platt(decision: ArrayLike, y: ArrayLike) -> Platt:
    """Platt scaling fitted by maximum likelihood, with Platt's smoothed targets against overfitting.

    A slope of the wrong sign is corrected to 0 (see the module docstring), with a warning.
    """
    decision, y = _two_classes(decision, y)
    n_fake, n_real = int(y.sum()), int((1 - y).sum())
    target = np.where(y == 1, (n_fake + 1) / (n_fake + 2), 1 / (n_real + 2))

    def loss(ab: np.ndarray) -> tuple[float, np.ndarray]:
        z = ab[0] * decision + ab[1]  # p_fake = expit(-z)
        residual = expit(z) - (1 - target)
        return float(np.sum(np.logaddexp(0, z) - (1 - target) * z)), np.array([residual @ decision, residual.sum()])

    result = minimize(loss, x0=[0.0, math.log((n_real + 1) / (n_fake + 1))], jac=True, method="BFGS")
    a, b = float(result.x[0]), float(result.x[1])
    if a <= 0:
        return Platt(a, b)
    constant = Platt(0.0, float(-logit(target.mean())))  # the maximum likelihood with a = 0
    log.warning(
        "Platt calibration: the fitted slope a = %+.4g has the wrong sign (on held-out items, higher decision "
        "values were less often fake); corrected to a = 0: p_fake is %.4f for every input",
        a,
        float(constant(0.0)),
    )
    return constant


def brier_score(y: ArrayLike, p_fake: ArrayLike) -> float:
    """Mean squared difference between p_fake and the label (0 is perfect): scikit-learn's ``brier_score_loss``."""
    return float(brier_score_loss(y, p_fake, pos_label=1))


def reliability_curve(y: ArrayLike, p_fake: ArrayLike, bins: int = 10) -> dict[str, np.ndarray]:
    """Per equal-width probability bin: its edges, mean predicted p_fake, fraction fake and count (NaN if empty).

    The means come from scikit-learn's ``calibration_curve`` (uniform bins), the counts
    use its binning: a bin holds ``low < p <= high``, the first also ``p = 0``.
    """
    y, p_fake = np.asarray(y), np.asarray(p_fake, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    count = np.bincount(np.searchsorted(edges[1:-1], p_fake), minlength=bins)
    fraction_fake, mean_predicted = np.full(bins, np.nan), np.full(bins, np.nan)
    fraction_fake[count > 0], mean_predicted[count > 0] = calibration_curve(y, p_fake, n_bins=bins, strategy="uniform")
    return {
        "bin_low": edges[:-1],
        "bin_high": edges[1:],
        "mean_predicted": mean_predicted,
        "fraction_fake": fraction_fake,
        "count": count,
    }
