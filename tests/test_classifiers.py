"""The classifier kinds' registry: one entry per kind, its parameters' defaults from the kind's schema block."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.svm import LinearSVC

from unmask.config import ConfigError, validate
from unmask.learn.calibration import Platt
from unmask.learn.classifiers import KINDS, fit, from_sklearn, make_classifier, score
from unmask.learn.model_file import Provenance, load_model, save_model
from unmask.schema import classifier_kinds, load


def kind_block(kind: str) -> dict:
    """A kind's block of the (cached) schema that make_classifier reads."""
    return load()["$defs"]["classifier_kinds"][kind]


def config_with(classifier: dict) -> dict:
    sources = {"a": {"label": "real"}, "b": {"label": "fake"}}
    return {"default_datasets": ["d"], "datasets": {"d": {"sources": sources, "classifiers": {"c": classifier}}}}


def test_every_kind_has_one_entry_and_one_schema_block():
    assert list(KINDS) == classifier_kinds()


@pytest.mark.parametrize(
    ("kind", "key"), [("logreg", "max_iter"), ("kmeans", "n_init"), ("svm", "C"), ("svm", "gamma")]
)
def test_a_missing_parameter_takes_the_schema_default(monkeypatch, kind, key):
    monkeypatch.setitem(kind_block(kind)["properties"][key], "default", 7)
    estimator, _ = make_classifier({"kind": kind}, seed=0)
    assert estimator.get_params()[key] == 7


def test_the_config_takes_each_kinds_defaults_and_refuses_another_kinds_keys():
    assert validate(config_with({"kind": "logreg"}))["datasets"]["d"]["classifiers"]["c"] == {
        "kind": "logreg",
        "C": 1.0,
        "max_iter": 1000,
    }
    with pytest.raises(ConfigError, match=r"datasets.d.classifiers.c: unknown key 'C'; allowed keys: kind, n_init"):
        validate(config_with({"kind": "kmeans", "C": 1.0}))
    with pytest.raises(ConfigError, match=r"datasets.d.classifiers.c.kind: 'lda' is not one of \['svm', "):
        validate(config_with({"kind": "lda"}))


def test_the_stored_large_linear_svm_is_the_primal_squared_hinge_without_a_spec_key():
    spec = {"kind": "svm", "liblinear_above": 10}
    table, solver = make_classifier(spec, 0, n_train=20)
    assert isinstance(table, LinearSVC) and table.loss == "hinge" and solver == "liblinear"
    stored, solver = make_classifier(spec, 0, n_train=20, deployed=True)
    assert stored[-1].loss == "squared_hinge" and not stored[-1].dual
    assert solver == "standardised liblinear primal, squared hinge", "the stored model is standardised"


def test_an_unknown_kind_is_named():
    with pytest.raises(ValueError, match="unknown classifier kind 'lda'; the kinds are svm, logreg, kmeans"):
        make_classifier({"kind": "lda"}, seed=0)


def reals_and_fakes(n: int = 200, length: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Correlated real rows (label 0) and fakes shifted off them (label 1)."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(length, length))
    y = np.repeat([0, 1], n // 2).astype(np.int8)
    X = rng.normal(size=(n, length)) @ mixing + 3.0 * y[:, None] * rng.normal(size=length)
    return X, y


def test_the_real_only_distance_is_the_mahalanobis_distance_from_the_reals():
    X, y = reals_and_fakes()
    estimator, _ = make_classifier({"kind": "mahalanobis", "components": 6, "contamination": 0.1}, seed=0)
    fit(estimator, "mahalanobis", X, y)
    reals = X[y == 0]
    centred = X - reals.mean(axis=0)
    inverse = np.linalg.inv(np.cov(reals, rowvar=False))  # every component kept: the full covariance
    expected = np.sqrt(np.einsum("ij,jk,ik->i", centred, inverse, centred))
    predicted, scores = score(estimator, "mahalanobis", X, y)
    np.testing.assert_allclose(scores + estimator.offset_, expected, rtol=1e-8)
    assert np.mean(predicted[y == 0]) == pytest.approx(0.1, abs=0.011), "contamination: the reals called fake"
    assert roc_auc_score(y, scores) > 0.9


def test_the_real_only_model_never_sees_a_fake():
    X, y = reals_and_fakes()
    spec = {"kind": "mahalanobis", "components": 3, "standardise": True}
    moved = X.copy()
    moved[y == 1] = np.random.default_rng(1).normal(scale=100.0, size=moved[y == 1].shape)
    first, second = (fit(make_classifier(spec, seed=0)[0], "mahalanobis", data, y) for data in (X, moved))
    np.testing.assert_array_equal(first.decision_function(X), second.decision_function(X))


def test_a_real_only_model_of_one_real_image_says_so():
    with pytest.raises(ValueError, match="a real-only model needs at least 2 real training images, got 1"):
        fit(make_classifier({"kind": "mahalanobis"}, seed=0)[0], "mahalanobis", np.ones((3, 4)), np.array([0, 1, 1]))


def test_a_one_class_svm_never_sees_a_fake_and_is_stored_as_an_rbf_svm_higher_outside(tmp_path):
    X, y = reals_and_fakes()
    spec = {"kind": "one_class_svm", "standardise": True}
    moved = X.copy()
    moved[y == 1] = np.random.default_rng(1).normal(scale=100.0, size=moved[y == 1].shape)
    first, second = (fit(make_classifier(spec, seed=0)[0], "one_class_svm", data, y) for data in (X, moved))
    np.testing.assert_array_equal(first.decision_function(X), second.decision_function(X))
    predicted, scores = score(first, "one_class_svm", X, y)
    assert roc_auc_score(y, scores) > 0.9 and np.array_equal(predicted, scores > 0)
    save_model(
        tmp_path / "m.json", from_sklearn(first, "celeba", Provenance("toy", 200, 0, "0", "0"), Platt(-1.0, 0.0))
    )
    model = load_model(tmp_path / "m.json")
    assert model.kind == "rbf_svm"
    np.testing.assert_allclose(model.decision(X), scores, rtol=1e-9, atol=1e-9)
