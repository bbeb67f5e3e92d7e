"""Models stored as JSON: round trips equal scikit-learn, tampered files are refused, calibration helps."""
from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from unmask.learn.protocol import make_classifier
from unmask.learn.models import (
    Isotonic,
    ModelFileError,
    Platt,
    Provenance,
    brier_score,
    fit_isotonic,
    fit_platt,
    from_sklearn,
    load_model,
    match_clusters,
    reliability_curve,
    save_model,
)

LENGTH = 12
PROVENANCE = Provenance.current("toy", n_train=120, seed=3)


def toy(n=160, seed=0):
    """Two overlapping classes of spectra-like vectors (label 1 = fake)."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    X = rng.normal(size=(n, LENGTH)) * np.linspace(1, 5, LENGTH) + 40 + 1.5 * y[:, None] * np.sin(np.arange(LENGTH))
    return X[:120], y[:120], X[120:], y[120:]


ESTIMATORS = {  # name: (stored kind, unfitted estimator)
    "linear_svm": ("linear_svm", lambda: make_classifier({"kind": "svm"}, seed=0)[0]),
    "linear_svc": ("linear_svm", lambda: LinearSVC()),
    "logreg": ("logreg", lambda: make_classifier({"kind": "logreg"}, seed=0)[0]),
    "rbf_svm": ("rbf_svm", lambda: make_pipeline(StandardScaler(), make_classifier({"kind": "svm", "kernel": "rbf", "C": 6.37, "gamma": 0.86}, seed=0)[0])),
    "rbf_svm_gamma_scale": ("rbf_svm", lambda: make_classifier({"kind": "svm", "kernel": "rbf", "gamma": "scale"}, seed=0)[0]),
}


def fitted(name: str):
    X, y, _, _ = toy()
    return ESTIMATORS[name][1]().fit(X, y)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_round_trip_equals_sklearn(tmp_path, name):
    _, _, X_test, _ = toy()
    estimator = fitted(name)
    save_model(tmp_path / "m.json", from_sklearn(estimator, "celeba", PROVENANCE))
    model = load_model(tmp_path / "m.json", variant="celeba", feature_length=LENGTH)
    np.testing.assert_allclose(model.decision(X_test), estimator.decision_function(X_test), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(model.predict(X_test), estimator.predict(X_test))
    assert model.provenance == PROVENANCE and model.kind == ESTIMATORS[name][0]


def test_logistic_regression_keeps_its_probabilities(tmp_path):
    _, _, X_test, _ = toy()
    estimator = fitted("logreg")
    save_model(tmp_path / "m.json", from_sklearn(estimator, "celeba", PROVENANCE))
    np.testing.assert_allclose(load_model(tmp_path / "m.json").p_fake(X_test), estimator.predict_proba(X_test)[:, 1], rtol=1e-12)


def test_kmeans_round_trip(tmp_path):
    X, y, X_test, _ = toy()
    kmeans = make_classifier({"kind": "kmeans"}, seed=0)[0].fit(X)
    labels = match_clusters(y, kmeans.predict(X))
    save_model(tmp_path / "m.json", from_sklearn(kmeans, "celeba", PROVENANCE, cluster_labels=labels))
    model = load_model(tmp_path / "m.json")
    np.testing.assert_array_equal(model.predict(X_test), np.array(labels)[kmeans.predict(X_test)])
    distances = kmeans.transform(X_test) ** 2
    expected = distances[:, labels.index(0)] - distances[:, labels.index(1)]
    np.testing.assert_allclose(model.decision(X_test), expected, rtol=1e-9)
    assert match_clusters([0, 0, 1], [1, 1, 0]) == (1, 0)


def test_threshold_moves_the_decision(tmp_path):
    _, _, X_test, _ = toy()
    estimator = fitted("linear_svm")
    median = float(np.median(estimator.decision_function(X_test)))
    save_model(tmp_path / "m.json", from_sklearn(estimator, "celeba", PROVENANCE, threshold=median))
    assert load_model(tmp_path / "m.json").predict(X_test).sum() == len(X_test) // 2


def test_wrong_feature_length_is_refused(tmp_path):
    _, _, X_test, _ = toy()
    save_model(tmp_path / "m.json", from_sklearn(fitted("logreg"), "celeba", PROVENANCE))
    with pytest.raises(ModelFileError, match=re.escape(f"{tmp_path / 'm.json'}: field 'feature_length': the model takes 12 features, not 80")):
        load_model(tmp_path / "m.json", feature_length=80)
    with pytest.raises(ModelFileError, match="field 'variant': the model was trained on 'celeba', not 'dfd'"):
        load_model(tmp_path / "m.json", variant="dfd")
    with pytest.raises(ValueError, match="expects 12 features"):
        load_model(tmp_path / "m.json").decision(X_test[:, :-1])


def put(values, i, value):
    values[i] = value


TAMPERING = {
    "coefficient list shortened": ("logreg", lambda d: d["parameters"]["coef"].pop(), "parameters.coef': expected 12 values (feature_length), got 11"),
    "unknown kind": ("logreg", lambda d: d.update(kind="forest"), "kind': unknown value 'forest'"),
    "kind of another shape": ("logreg", lambda d: d.update(kind="rbf_svm"), "parameters.support_vectors': missing"),
    "NaN inserted": ("logreg", lambda d: put(d["parameters"]["coef"], 3, math.nan), "parameters.coef[3]': expected a finite number, got nan"),
    "format version bumped": ("logreg", lambda d: d.update(format_version=2), "format_version': version 2 is not supported"),
    "feature length changed": ("logreg", lambda d: d.update(feature_length=13), "parameters.coef': expected 13 values"),
    "unknown variant": ("logreg", lambda d: d.update(variant="celebA"), "variant': unknown value 'celebA'"),
    "extra field": ("logreg", lambda d: d["parameters"].update(bias=1.0), "parameters.bias': unknown field"),
    "extra top-level field": ("logreg", lambda d: d.update(note="x"), "note': unknown field"),
    "boolean threshold": ("logreg", lambda d: d.update(threshold=True), "threshold': expected a finite number, got True"),
    "calibration method": ("logreg", lambda d: d["calibration"].update(method="temperature"), "calibration.method': unknown value"),
    "n_train as text": ("logreg", lambda d: d["provenance"].update(n_train="120"), "provenance.n_train': expected an integer"),
    "provenance dropped": ("logreg", lambda d: d.update(provenance=None), "provenance': expected an object, got null"),
    "zero scale": ("rbf_svm", lambda d: put(d["scaler"]["scale"], 0, 0.0), "scaler.scale[0]': must be positive"),
    "support vector shortened": ("rbf_svm", lambda d: d["parameters"]["support_vectors"][2].pop(), "parameters.support_vectors[2]': expected 12 values"),
    "dual coefficients shortened": ("rbf_svm", lambda d: d["parameters"]["dual_coef"].pop(), "parameters.dual_coef': expected"),
    "negative gamma": ("rbf_svm", lambda d: d["parameters"].update(gamma=-0.5), "parameters.gamma': must be positive"),
}


@pytest.mark.parametrize("case", TAMPERING)
def test_tampered_field_is_refused_by_name(tmp_path, case):
    name, tamper, message = TAMPERING[case]
    path = tmp_path / "m.json"
    save_model(path, from_sklearn(fitted(name), "celeba", PROVENANCE))
    document = json.loads(path.read_text())
    tamper(document)
    path.write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match=re.escape(f"{path}: field '{message}")):
        load_model(path)


def test_kmeans_labels_must_name_both_classes(tmp_path):
    X, y, _, _ = toy()
    path = tmp_path / "m.json"
    save_model(path, from_sklearn(make_classifier({"kind": "kmeans"}, 0)[0].fit(X), "celeba", PROVENANCE, cluster_labels=(1, 0)))
    document = json.loads(path.read_text())
    document["parameters"]["labels"] = [1, 1]
    path.write_text(json.dumps(document))
    with pytest.raises(ModelFileError, match="field 'parameters.labels': expected \\[0, 1\\] or \\[1, 0\\]"):
        load_model(path)


def test_not_json_and_unsaveable_models(tmp_path):
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ModelFileError, match="broken.json: not a JSON model file"):
        load_model(tmp_path / "broken.json")
    model = from_sklearn(fitted("logreg"), "celeba", PROVENANCE)
    broken = dataclasses.replace(model, threshold=math.inf)
    with pytest.raises(ModelFileError, match="field 'threshold'"):
        save_model(tmp_path / "inf.json", broken)
    assert not (tmp_path / "inf.json").exists()
    with pytest.raises(ValueError, match="unknown feature variant"):
        from_sklearn(fitted("logreg"), "faces", PROVENANCE)


def miscalibrated(n, seed):
    """Decision values whose true P(fake) is expit(0.5 d + 1), far flatter than expit(d) suggests."""
    rng = np.random.default_rng(seed)
    decision = rng.normal(0, 4, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(0.5 * decision + 1)))).astype(int)
    return decision, y


def test_platt_recovers_the_true_link_and_lowers_the_brier_score():
    fit_d, fit_y = miscalibrated(4000, 0)
    test_d, test_y = miscalibrated(4000, 1)
    platt = fit_platt(fit_d, fit_y)
    assert platt.a == pytest.approx(-0.5, abs=0.1) and platt.b == pytest.approx(-1.0, abs=0.15)
    naive = brier_score(test_y, Platt(-1.0, 0.0)(test_d))  # the raw decision read as a logit
    assert brier_score(test_y, platt(test_d)) < naive - 0.005


def test_isotonic_equals_sklearn_and_lowers_the_brier_score(tmp_path):
    fit_d, fit_y = miscalibrated(2000, 0)
    test_d, test_y = miscalibrated(2000, 1)
    isotonic = fit_isotonic(fit_d, fit_y)
    reference = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(fit_d, fit_y)
    np.testing.assert_allclose(isotonic(test_d), reference.predict(test_d), atol=1e-12)
    assert brier_score(test_y, isotonic(test_d)) < brier_score(test_y, Platt(-1.0, 0.0)(test_d)) - 0.005


@pytest.mark.parametrize("calibration", [Platt(-0.8, 0.3), Isotonic(np.array([-1.0, 0.0, 2.0]), np.array([0.1, 0.4, 0.9]))])
def test_calibrated_model_round_trip(tmp_path, calibration):
    _, _, X_test, _ = toy()
    estimator = fitted("linear_svm")
    with pytest.raises(ValueError, match="no calibration"):
        from_sklearn(estimator, "celeba", PROVENANCE).p_fake(X_test)
    save_model(tmp_path / "m.json", from_sklearn(estimator, "celeba", PROVENANCE, calibration=calibration))
    loaded = load_model(tmp_path / "m.json")
    np.testing.assert_allclose(loaded.p_fake(X_test), calibration(estimator.decision_function(X_test)), rtol=1e-9)
    assert type(loaded.calibration) is type(calibration)


def test_calibration_needs_both_classes():
    with pytest.raises(ValueError, match="both 0 and 1"):
        fit_platt([0.1, 0.2], [1, 1])


def test_brier_score_and_reliability_curve_by_hand():
    assert brier_score([0, 1], [0.2, 0.6]) == pytest.approx((0.04 + 0.16) / 2)
    curve = reliability_curve([0, 0, 1, 1, 1], [0.05, 0.15, 0.12, 0.95, 1.0], bins=10)
    np.testing.assert_array_equal(curve["count"], [1, 2, 0, 0, 0, 0, 0, 0, 0, 2])
    np.testing.assert_allclose(curve["mean_predicted"][[0, 1, 9]], [0.05, 0.135, 0.975])
    np.testing.assert_allclose(curve["fraction_fake"][[0, 1, 9]], [0.0, 0.5, 1.0])
    assert np.isnan(curve["fraction_fake"][2]) and curve["bin_low"][9] == pytest.approx(0.9)
