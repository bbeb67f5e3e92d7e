"""The whole-dataset model as a unit: standardised inside the model file, calibrated on held-out decisions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from unmask.learn.final_model import cross_fitted_p_fake, fit_final_model, held_out_decisions
from unmask.learn.metrics import binary_metrics
from unmask.learn.model_file import load_model, save_model
from unmask.learn.protocol import Dataset


def spectra_like(n=400, length=16, seed=0) -> Dataset:
    """Log-spectrum-like rows: values in the hundreds, strongly correlated, fakes lifted at high frequencies."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2).astype(np.int8)
    level = rng.normal(300, 20, size=(n, 1))
    X = (
        level
        - 8 * np.arange(length)
        + rng.normal(size=(n, length))
        + 1.2 * y[:, None] * (np.arange(length) > length // 2)
    )
    ids = np.array([f"i{i}" for i in range(n)], dtype=object)
    return Dataset(X, y, ids, np.where(y, "gan", "cam").astype(object), ids, np.full(n, None, dtype=object))


SVM = {"kind": "svm", "kernel": "linear", "C": 1.0, "standardise": False, "liblinear_above": 100}


def test_the_svm_model_is_standardised_calibrated_and_converges(tmp_path):
    data = spectra_like()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        model, curve = fit_final_model(data, SVM, "toy", "faces_hq", seed=1)
    assert model.kind == "linear_svm" and model.scaler is not None, "the scaler is part of the stored model"
    np.testing.assert_allclose(model.scaler.mean, data.X.mean(axis=0))
    assert model.calibration.a < 0 and model.threshold == 0.5
    assert model.provenance.n_train == 400 and model.provenance.seed == 1
    p_fake = model.p_fake(data.X)
    assert binary_metrics(data.y, p_fake, model.predict(data.X))["accuracy"] > 0.85
    assert curve["count"].sum() == 400 and 0 < curve["brier"].iloc[0] < 0.15
    assert list(curve.columns) == ["bin_low", "bin_high", "mean_predicted", "fraction_fake", "count", "brier"]
    save_model(tmp_path / "svm.json", model)
    np.testing.assert_array_equal(load_model(tmp_path / "svm.json").p_fake(data.X), p_fake)


def test_kmeans_keeps_the_datasets_scaling():
    model, _ = fit_final_model(spectra_like(), {"kind": "kmeans", "standardise": False}, "toy", "faces_hq", seed=1)
    assert model.kind == "kmeans" and model.scaler is None


def test_the_report_is_cross_fitted_on_one_pass():
    data = spectra_like()
    decisions, fold_of = held_out_decisions(data, dict(SVM, standardise=True), seed=1)
    assert sorted(set(fold_of)) == [0, 1, 2, 3, 4]
    p_fake = cross_fitted_p_fake(decisions, data.y, fold_of)
    even = fold_of % 2 == 0
    flipped = np.where(even, 1 - data.y, data.y)  # other labels for the even folds only
    relabelled = cross_fitted_p_fake(decisions, flipped, fold_of)
    np.testing.assert_array_equal(relabelled[even], p_fake[even])  # p_fake is never fitted on its own label
    assert not np.allclose(relabelled[~even], p_fake[~even])


@pytest.mark.parametrize("kind", ["logreg", "svm"])
def test_labels_agree_with_p_fake(kind):
    data = spectra_like(seed=2)
    model, _ = fit_final_model(data, dict(SVM, kind=kind), "toy", "faces_hq", seed=3)
    np.testing.assert_array_equal(model.predict(data.X), model.p_fake(data.X) >= model.threshold)
