"""Detector metrics against hand-computed values, ties, one-class test sets, and summaries over repeats."""

from __future__ import annotations

import math

import numpy as np
import pytest

from unmask.learn.metrics import binary_metrics, summarize, summarize_repeats


def test_hand_computed_case():
    # Ranked by score: fake .9, real .8, real .4, fake .3, real .1.
    # ROC points (FPR, TPR): (0,0) (0,1/2) (1/3,1/2) (2/3,1/2) (2/3,1) (1,1).
    y = [0, 0, 0, 1, 1]
    score = [0.8, 0.4, 0.1, 0.9, 0.3]
    pred = [1, 0, 0, 1, 0]  # threshold 0.5
    m = binary_metrics(y, score, pred)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["accuracy_real"] == pytest.approx(2 / 3)
    assert m["accuracy_fake"] == pytest.approx(1 / 2)
    assert m["balanced_accuracy"] == pytest.approx(7 / 12)
    assert m["roc_auc"] == pytest.approx(4 / 6)  # fake .9 beats 3 reals, fake .3 beats 1
    assert m["average_precision"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 4)  # precision 1 at recall 1/2, 1/2 at recall 1
    # FNR - FPR is 1/6 at (1/3, 1/2) and -1/6 at (2/3, 1/2): the crossing is halfway, at FPR = FNR = 1/2.
    assert m["eer"] == pytest.approx(0.5)
    assert m["tpr_at_fpr_1"] == pytest.approx(0.5)
    assert m["tpr_at_fpr_5"] == pytest.approx(0.5)


def test_tpr_at_fpr_takes_the_best_threshold_within_the_budget():
    # 100 reals and 100 fakes; the 3 highest reals outscore 20 fakes, the next 5 outscore 20 more.
    real = np.r_[[10.0, 9.9, 9.8], [7.0, 6.9, 6.8, 6.7, 6.6], np.zeros(92)]
    fake = np.r_[np.full(20, 8.0), np.full(20, 5.0), np.full(60, 1.0)]
    y = np.r_[np.zeros(100), np.ones(100)]
    m = binary_metrics(y, np.r_[real, fake], (np.r_[real, fake] > 4).astype(int))
    assert m["tpr_at_fpr_1"] == 0.0  # FPR 1% allows one real above threshold; the first fake comes after 3
    assert m["tpr_at_fpr_5"] == pytest.approx(0.2)  # FPR 3%: 20 fakes; 40 fakes would cost FPR 8%


def test_perfect_and_inverted_detectors():
    y = np.array([0, 0, 1, 1])
    perfect = binary_metrics(y, [0.1, 0.2, 0.8, 0.9], y)
    assert (perfect["roc_auc"], perfect["eer"], perfect["tpr_at_fpr_1"], perfect["accuracy"]) == (1.0, 0.0, 1.0, 1.0)
    inverted = binary_metrics(y, [0.9, 0.8, 0.2, 0.1], 1 - y)
    assert (inverted["roc_auc"], inverted["eer"], inverted["tpr_at_fpr_5"], inverted["accuracy"]) == (
        0.0,
        1.0,
        0.0,
        0.0,
    )


def test_ties_count_half_and_are_never_split():
    m = binary_metrics([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], [1, 1, 1, 1])
    assert m["roc_auc"] == 0.5
    assert m["eer"] == pytest.approx(0.5)  # the diagonal from (0,0) to (1,1) crosses FPR = FNR at 1/2
    assert m["tpr_at_fpr_5"] == 0.0  # no threshold separates tied scores
    assert m["accuracy_real"] == 0.0 and m["accuracy_fake"] == 1.0 and m["balanced_accuracy"] == 0.5


@pytest.mark.parametrize("label", [0, 1])
def test_one_class_test_set_gives_nan_not_an_error(label):
    m = binary_metrics([label] * 3, [0.2, 0.6, 0.9], [label, label, 1 - label])
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m[("accuracy_real", "accuracy_fake")[label]] == pytest.approx(2 / 3)
    undefined = ["roc_auc", "average_precision", "eer", "tpr_at_fpr_1", "tpr_at_fpr_5", "balanced_accuracy"]
    undefined.append(("accuracy_fake", "accuracy_real")[label])
    assert all(math.isnan(m[name]) for name in undefined)


@pytest.mark.parametrize(
    "y, score, pred, message",
    [
        ([0, 2], [0.1, 0.2], [0, 1], "labels must be 0"),
        ([0, 1], [0.1, 0.2], [0, 1, 1], "differ in shape"),
        ([0, 1], [0.1, np.nan], [0, 1], "finite"),
        ([], [], [], "no test items"),
    ],
)
def test_bad_input_is_refused(y, score, pred, message):
    with pytest.raises(ValueError, match=message):
        binary_metrics(y, score, pred)


def test_summary_is_a_student_t_interval():
    s = summarize([0.9, 1.0, 0.8, 0.9])
    assert s["mean"] == pytest.approx(0.9)
    assert s["std"] == pytest.approx(np.sqrt(0.02 / 3))
    half = 3.182446305284263 * s["std"] / 2  # t(0.975, 3) std / sqrt(4)
    assert (s["ci_low"], s["ci_high"], s["n"]) == (pytest.approx(0.9 - half), pytest.approx(0.9 + half), 4)


def test_summary_of_one_or_no_finite_values():
    one = summarize([0.7, math.nan])
    assert one["mean"] == 0.7 and one["n"] == 1
    assert math.isnan(one["std"]) and math.isnan(one["ci_low"]) and math.isnan(one["ci_high"])
    none = summarize([])
    assert none["n"] == 0 and math.isnan(none["mean"])
    assert summarize([0.5, 0.5, 0.5])["ci_low"] == summarize([0.5, 0.5, 0.5])["ci_high"] == 0.5


def test_summarize_repeats_per_metric_skips_undefined_values():
    repeats = [binary_metrics([0, 1], [0.2, 0.8], [0, 1]), binary_metrics([1, 1], [0.2, 0.8], [0, 1])]
    summary = summarize_repeats(repeats)
    assert summary["accuracy"]["mean"] == pytest.approx(0.75) and summary["accuracy"]["n"] == 2
    assert summary["roc_auc"]["mean"] == 1.0 and summary["roc_auc"]["n"] == 1
    assert set(summary) == set(repeats[0])
