"""The model a user keeps: one classifier fitted on a whole dataset, calibrated on held-out decisions.

One cross-validation pass over the dataset (groups kept whole, as in
training) gives every item a decision value from a model that did not see it;
Platt scaling is fitted on all of them. The calibration report (Brier score
and reliability curve) is cross-fitted on the same pass: each half of the folds
is scored by a Platt fit on the other half, so the report is never fitted on
itself. Then the classifier is fitted on every item.

The stored model is built with ``make_classifier(deployed=True)``: the kinds
``scaled_when_deployed`` (SVM, logistic regression, one-class SVM) are
standardised inside it (the scaler is part of the model file), whatever the
dataset's ``standardise``, and a linear SVM on more than ``liblinear_above`` items is
liblinear's L2-loss (squared hinge) SVM solved in the primal. The hinge loss's
dual solver stops at its 100,000-iteration cap on raw spectra and on
standardised ones alike (benchmarks/bench_model.py); the primal converges in a
few dozen Newton steps. The paper table keeps the paper's setting; k-means
and mahalanobis keep the dataset's (standardising changes their clusters and
principal components).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from unmask.learn.calibration import brier_score, fit_platt, reliability_curve
from unmask.learn.classifiers import fit, from_sklearn, make_classifier
from unmask.learn.model_file import Model, Provenance
from unmask.learn.protocol import Dataset, fit_and_score

FOLDS = 5


def held_out_decisions(
    data: Dataset, spec: dict[str, Any], seed: int, deployed: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Each item's decision value from a model fitted on the other folds (higher = more fake), and its fold.

    ``deployed``: the folds' models are built as the stored model is (``make_classifier``).
    """
    decisions, fold_of = np.empty(len(data.y)), np.empty(len(data.y), dtype=int)
    n_groups = len(set(data.groups))
    if n_groups == len(data.y):  # one item per group: the same folds without StratifiedGroupKFold's per-group loop
        folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed).split(data.X, data.y)
    else:
        folds = StratifiedGroupKFold(n_splits=min(FOLDS, n_groups), shuffle=True, random_state=seed)
        folds = folds.split(data.X, data.y, data.groups)
    for fold, (train, test) in enumerate(folds):
        model, _ = make_classifier(spec, seed, n_train=len(train), deployed=deployed)
        X, y = data.X, data.y
        _, decisions[test] = fit_and_score(model, spec["kind"], X[train], y[train], X[test], y[test])
        fold_of[test] = fold
    return decisions, fold_of


def cross_fitted_p_fake(decisions: np.ndarray, y: np.ndarray, fold_of: np.ndarray) -> np.ndarray:
    """p_fake of each item from a Platt fit on the other half of the folds (even folds vs odd folds)."""
    half = fold_of % 2 == 0
    p_fake = np.empty(len(y))
    for scored in (half, ~half):
        p_fake[scored] = fit_platt(decisions[~scored], y[~scored])(decisions[scored])
    return p_fake


def fit_final_model(
    data: Dataset, spec: dict[str, Any], dataset: str, variant: str, seed: int
) -> tuple[Model, pd.DataFrame]:
    """The classifier fitted on every item, with Platt calibration; and its calibration report."""
    decisions, fold_of = held_out_decisions(data, spec, seed, deployed=True)
    platt = fit_platt(decisions, data.y)
    p_fake = cross_fitted_p_fake(decisions, data.y, fold_of)
    estimator, _ = make_classifier(spec, seed, n_train=len(data.y), deployed=True)
    fit(estimator, spec["kind"], data.X, data.y)
    provenance = Provenance.current(dataset, len(data.y), seed)
    model = from_sklearn(estimator, variant, provenance, calibration=platt)
    curve = pd.DataFrame(reliability_curve(data.y, p_fake)).assign(brier=brier_score(data.y, p_fake))
    return model, curve
