"""Test-set metrics of a real/fake detector and their summary over repeats.

Scores are "higher = more fake" (p_fake or decision values); labels are
1 = fake, 0 = real. A metric that a test set cannot define (a ranking metric
on a one-class test set, the accuracy on a class that is absent) is NaN.

Definitions:

* ``eer``: the equal error rate, where the ROC polyline (FPR, TPR) crosses
  FPR = FNR = 1 - TPR, linearly interpolated between the two neighbouring
  operating points; it need not be reachable by a single threshold.
* ``tpr_at_fpr_1`` / ``tpr_at_fpr_5``: the highest TPR of any threshold whose
  FPR is at most 1% / 5% (no interpolation: an operating point one could
  actually deploy). Tied scores are never split, so on small test sets this is
  often the TPR at FPR = 0.
* ``summarize``: mean, sample std (ddof 1) and a two-sided 95% Student-t
  interval ``mean ± t(0.975, n-1) std / sqrt(n)`` over the finite values; with
  one value std and interval are NaN. The t-interval is not clipped to [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

FPR_TARGETS = {"tpr_at_fpr_1": 0.01, "tpr_at_fpr_5": 0.05}
CONFIDENCE = 0.95
STD = "sample standard deviation over the repeats (ddof=1)"  # the one std of every table


def _checked(y_true: ArrayLike, score: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, scores and predictions as arrays of one length, labels in {0, 1}."""
    y_true, score, y_pred = np.asarray(y_true), np.asarray(score, dtype=np.float64), np.asarray(y_pred)
    if not y_true.size:
        raise ValueError("no test items")
    if not (y_true.shape == score.shape == y_pred.shape) or y_true.ndim != 1:
        raise ValueError(
            f"labels, scores and predictions differ in shape: {y_true.shape}, {score.shape}, {y_pred.shape}"
        )
    for name, labels in (("labels", y_true), ("predictions", y_pred)):
        if not np.isin(labels, (0, 1)).all():
            raise ValueError(f"{name} must be 0 (real) or 1 (fake), got {sorted(set(np.unique(labels)) - {0, 1})[:5]}")
    if not np.isfinite(score).all():
        raise ValueError("scores must be finite")
    return y_true.astype(np.int8), score, y_pred.astype(np.int8)


def class_accuracy(y_true: np.ndarray, y_pred: np.ndarray, label: int) -> float:
    """Fraction of the items of class ``label`` predicted correctly (NaN if there are none)."""
    members = y_true == label
    return float(np.mean(y_pred[members] == label)) if members.any() else math.nan


def equal_error_rate(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Where the ROC polyline crosses FPR = FNR, interpolated linearly between operating points."""
    gap = (1.0 - tpr) - fpr  # FNR - FPR: 1 at the first point, -1 at the last, non-increasing
    i = int(np.argmax(gap <= 0))
    if gap[i] == 0:
        return float(fpr[i])
    t = gap[i - 1] / (gap[i - 1] - gap[i])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """Highest TPR among operating points with FPR <= ``target`` (the first point has FPR 0)."""
    return float(tpr[fpr <= target].max())


def _ranking_metrics(y_true: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """ROC AUC, average precision, EER and TPR at fixed FPRs; NaN unless both classes are present."""
    names = ["roc_auc", "average_precision", "eer", *FPR_TARGETS]
    if len(np.unique(y_true)) < 2:
        return dict.fromkeys(names, math.nan)
    fpr, tpr, _ = roc_curve(y_true, score, drop_intermediate=False)
    return {
        "roc_auc": float(roc_auc_score(y_true, score)),
        "average_precision": float(average_precision_score(y_true, score)),
        "eer": equal_error_rate(fpr, tpr),
        **{name: tpr_at_fpr(fpr, tpr, target) for name, target in FPR_TARGETS.items()},
    }


def binary_metrics(y_true: ArrayLike, score: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """All test-set metrics of one fit: labels (1 = fake), scores (higher = more fake), hard predictions.

    For k-means, ``y_pred`` must already be mapped from clusters to labels.
    """
    y_true, score, y_pred = _checked(y_true, score, y_pred)
    accuracy_real = class_accuracy(y_true, y_pred, 0)
    accuracy_fake = class_accuracy(y_true, y_pred, 1)
    return {
        "accuracy": float(np.mean(y_true == y_pred)),
        "balanced_accuracy": (accuracy_real + accuracy_fake) / 2,
        **_ranking_metrics(y_true, score),
        "accuracy_real": accuracy_real,
        "accuracy_fake": accuracy_fake,
    }


def summarize(values: Iterable[float]) -> dict[str, float]:
    """Mean, std, 95% t-interval (``ci_low``, ``ci_high``) and count ``n`` of the finite values."""
    values = np.asarray(list(values), dtype=np.float64)
    values = values[np.isfinite(values)]
    n = values.size
    mean = float(values.mean()) if n else math.nan
    if n < 2:
        return {"mean": mean, "std": math.nan, "ci_low": math.nan, "ci_high": math.nan, "n": n}
    std = float(values.std(ddof=1))
    if std == 0:  # scipy gives NaN for a zero-width interval
        return {"mean": mean, "std": std, "ci_low": mean, "ci_high": mean, "n": n}
    ci_low, ci_high = stats.t.interval(CONFIDENCE, n - 1, loc=mean, scale=std / math.sqrt(n))
    return {"mean": mean, "std": std, "ci_low": float(ci_low), "ci_high": float(ci_high), "n": n}


def summarize_repeats(repeats: Iterable[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """``summarize`` of every metric over repeats (each repeat one ``binary_metrics`` dict)."""
    repeats = list(repeats)
    names = dict.fromkeys(name for repeat in repeats for name in repeat)
    return {name: summarize(repeat.get(name, math.nan) for repeat in repeats) for name in names}
