"""The classifier kinds' registry: one entry per kind, its parameters' defaults from the kind's schema block."""

from __future__ import annotations

import pytest
from sklearn.svm import LinearSVC

from unmask.config import SCHEMA_PATH, ConfigError, _schema, classifier_kinds, validate
from unmask.learn.classifiers import KINDS, make_classifier


def kind_block(kind: str) -> dict:
    """A kind's block of the (cached) schema that make_classifier reads."""
    return _schema(SCHEMA_PATH)["$defs"]["classifier_kinds"][kind]


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
