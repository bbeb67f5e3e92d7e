"""The model a user keeps: one classifier fitted on a whole dataset, calibrated on held-out decisions.

Calibration data come from cross-validation over the dataset (groups kept
whole, as in training), so every item's decision value is one the model did
not see it for; Platt scaling is fitted on them. The Brier score and a
reliability curve of those held-out probabilities say how far to trust p_fake.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from unmask.learn.protocol import Dataset, fit_and_score, make_classifier
from unmask.learn.models import Model, Provenance, brier_score, fit_platt, from_sklearn, match_clusters, reliability_curve

FOLDS = 5


def held_out_decisions(data: Dataset, spec: dict, seed: int) -> np.ndarray:
    """Each item's decision value from a model fitted on the other folds (higher = more fake)."""
    decisions = np.empty(len(data.y))
    folds = StratifiedGroupKFold(n_splits=min(FOLDS, len(set(data.groups))), shuffle=True, random_state=seed)
    for train, test in folds.split(data.X, data.y, data.groups):
        model, _ = make_classifier(spec, seed, n_train=len(train))
        _, decisions[test] = fit_and_score(model, spec["kind"], data.X[train], data.y[train], data.X[test], data.y[test])
    return decisions


def fit_final_model(data: Dataset, spec: dict, dataset: str, variant: str, seed: int) -> tuple[Model, pd.DataFrame]:
    """The classifier fitted on every item, with Platt calibration; and its calibration report."""
    platt = fit_platt(held_out_decisions(data, spec, seed), data.y)
    p_fake = platt(held_out_decisions(data, spec, seed + 1))  # fresh folds: the report is not fitted on itself
    estimator, _ = make_classifier(spec, seed, n_train=len(data.y))
    cluster_labels = None
    if spec["kind"] == "kmeans":
        cluster_labels = match_clusters(data.y, estimator.fit(data.X).predict(data.X))
    else:
        estimator.fit(data.X, data.y)
    model = from_sklearn(estimator, variant, Provenance.current(dataset, len(data.y), seed), calibration=platt, cluster_labels=cluster_labels)
    curve = pd.DataFrame(reliability_curve(data.y, p_fake)).assign(brier=brier_score(data.y, p_fake))
    return model, curve
