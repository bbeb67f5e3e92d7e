"""Model files: round trips equal scikit-learn, a schema and a checksum refuse bad files by field, calibration helps."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from unmask.learn.calibration import Platt, brier_score, fit_platt, reliability_curve
from unmask.learn.classifiers import from_sklearn, make_classifier, match_clusters
from unmask.learn.model_file import MODEL_SCHEMA, ModelFileError, Provenance, checksum, load_model, save_model

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
    "rbf_svm": (
        "rbf_svm",
        lambda: make_pipeline(
            StandardScaler(), make_classifier({"kind": "svm", "kernel": "rbf", "C": 6.37, "gamma": 0.86}, seed=0)[0]
        ),
    ),
    "rbf_svm_gamma_scale": (
        "rbf_svm",
        lambda: make_classifier({"kind": "svm", "kernel": "rbf", "gamma": "scale"}, seed=0)[0],
    ),
    "poly_svm": (  # the configuration allows every SVC kernel: each must make a model file
        "poly_svm",
        lambda: make_pipeline(StandardScaler(), make_classifier({"kind": "svm", "kernel": "poly"}, seed=0)[0]),
    ),
    "sigmoid_svm": (
        "sigmoid_svm",
        lambda: make_pipeline(
            StandardScaler(), make_classifier({"kind": "svm", "kernel": "sigmoid", "gamma": 0.01}, seed=0)[0]
        ),
    ),
    "mahalanobis": ("mahalanobis", lambda: make_classifier({"kind": "mahalanobis", "standardise": True}, seed=0)[0]),
}


def fitted(name: str):
    X, y, _, _ = toy()
    return ESTIMATORS[name][1]().fit(X, y)


LOGIT = Platt(-1.0, 0.0)  # the raw decision value read as a logit: labels as the estimator's own


def stored(name: str, **options):
    """A model of a fitted estimator, with its raw decision values as logits unless told otherwise."""
    return from_sklearn(fitted(name), "celeba", PROVENANCE, **{"calibration": LOGIT, **options})


def rewrite(path, change):
    """Apply ``change`` to the parsed model file and write it back, checksum recomputed (a coherent edit)."""
    document = json.loads(path.read_text())
    change(document)
    document["checksum"] = checksum(document)
    path.write_text(json.dumps(document))


@pytest.mark.parametrize("name", ESTIMATORS)
def test_round_trip_equals_sklearn(tmp_path, name):
    _, _, X_test, _ = toy()
    estimator = fitted(name)
    save_model(tmp_path / "m.json", from_sklearn(estimator, "celeba", PROVENANCE, calibration=LOGIT))
    model = load_model(tmp_path / "m.json", variant="celeba", feature_length=LENGTH)
    np.testing.assert_allclose(model.decision(X_test), estimator.decision_function(X_test), rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(model.predict(X_test), estimator.predict(X_test))
    assert model.provenance == PROVENANCE and model.kind == ESTIMATORS[name][0]


def test_logistic_regression_keeps_its_probabilities(tmp_path):
    _, _, X_test, _ = toy()
    estimator = fitted("logreg")
    save_model(tmp_path / "m.json", from_sklearn(estimator, "celeba", PROVENANCE))
    np.testing.assert_allclose(
        load_model(tmp_path / "m.json").p_fake(X_test), estimator.predict_proba(X_test)[:, 1], rtol=1e-12
    )


def test_kmeans_round_trip(tmp_path):
    X, y, X_test, _ = toy()
    kmeans = make_classifier({"kind": "kmeans"}, seed=0)[0].fit(X)
    labels = match_clusters(y, kmeans.predict(X))
    save_model(
        tmp_path / "m.json", from_sklearn(kmeans, "celeba", PROVENANCE, calibration=LOGIT, cluster_labels=labels)
    )
    model = load_model(tmp_path / "m.json")
    np.testing.assert_array_equal(model.predict(X_test), np.array(labels)[kmeans.predict(X_test)])
    distances = kmeans.transform(X_test)  # the protocol's k-means score, on which its calibration is fitted
    expected = distances[:, labels.index(0)] - distances[:, labels.index(1)]
    np.testing.assert_allclose(model.decision(X_test), expected, rtol=1e-9)
    assert match_clusters([0, 0, 1], [1, 1, 0]) == (1, 0)


def test_the_label_follows_p_fake_and_the_threshold(tmp_path):
    _, _, X_test, _ = toy()
    model = stored("linear_svm", calibration=Platt(-0.7, 0.4))  # p_fake(0) = expit(-0.4): not 0.5 at decision 0
    p_fake = model.p_fake(X_test)
    np.testing.assert_array_equal(model.predict(X_test), p_fake >= 0.5)
    median = float(np.median(p_fake))
    save_model(tmp_path / "m.json", dataclasses.replace(model, threshold=median))
    loaded = load_model(tmp_path / "m.json")
    assert loaded.threshold == median and loaded.predict(X_test).sum() == len(X_test) // 2
    np.testing.assert_array_equal(loaded.predict(X_test), loaded.p_fake(X_test) >= median)


def test_wrong_feature_length_is_refused(tmp_path):
    _, _, X_test, _ = toy()
    save_model(tmp_path / "m.json", stored("logreg"))
    with pytest.raises(
        ModelFileError,
        match=re.escape(f"{tmp_path / 'm.json'}: field 'feature_length': the model takes 12 features, not 80"),
    ):
        load_model(tmp_path / "m.json", feature_length=80)
    with pytest.raises(ModelFileError, match="field 'variant': the model was trained on 'celeba', not 'dfd'"):
        load_model(tmp_path / "m.json", variant="dfd")
    with pytest.raises(ValueError, match="expects 12 features"):
        load_model(tmp_path / "m.json").decision(X_test[:, :-1])


def put(values, i, value):
    values[i] = value


TAMPERING = {
    "coefficient list shortened": (
        "logreg",
        lambda d: d["parameters"]["coef"].pop(),
        "parameters.coef': expected 12 values (feature_length), got 11",
    ),
    "unknown kind": ("logreg", lambda d: d.update(kind="forest"), "kind': unknown value 'forest'"),
    "kind of another shape": (
        "logreg",
        lambda d: d.update(kind="rbf_svm"),
        "parameters': 'support_vectors' is a required property",
    ),
    "NaN inserted": (
        "logreg",
        lambda d: put(d["parameters"]["coef"], 3, math.nan),
        "parameters.coef[3]': expected a finite number, got 'NaN'",
    ),
    "format version bumped": (
        "logreg",
        lambda d: d.update(format_version=1),
        "format_version': unknown value 1; expected 2",
    ),
    "feature length changed": ("logreg", lambda d: d.update(feature_length=13), "parameters.coef': expected 13 values"),
    "unknown variant": ("logreg", lambda d: d.update(variant="celebA"), "variant': unknown value 'celebA'"),
    "extra field": (
        "logreg",
        lambda d: d["parameters"].update(bias=1.0),
        "parameters': unknown field: 'bias' was unexpected",
    ),
    "extra top-level field": (
        "logreg",
        lambda d: d.update(note="x"),
        "(top level)': unknown field: 'note' was unexpected",
    ),
    "boolean threshold": ("logreg", lambda d: d.update(threshold=True), "threshold': expected number, got True"),
    "boolean coefficient": (
        "logreg",
        lambda d: put(d["parameters"]["coef"], 2, True),
        "parameters.coef[2]': expected number, got True",
    ),
    "threshold beyond 1": ("logreg", lambda d: d.update(threshold=1.5), "threshold': 1.5 violates exclusiveMaximum 1"),
    "calibration method": (
        "logreg",
        lambda d: d["calibration"].update(method="isotonic"),
        "calibration.method': unknown value 'isotonic'",
    ),
    "inverted calibration": (
        "logreg",
        lambda d: d["calibration"].update(a=0.04),
        "calibration.a': 0.04 violates maximum 0",
    ),
    "n_train as text": (
        "logreg",
        lambda d: d["provenance"].update(n_train="120"),
        "provenance.n_train': expected integer, got '120'",
    ),
    "provenance dropped": ("logreg", lambda d: d.update(provenance=None), "provenance': expected object, got None"),
    "zero scale": (
        "rbf_svm",
        lambda d: put(d["scaler"]["scale"], 0, 0.0),
        "scaler.scale[0]': 0.0 violates exclusiveMinimum 0",
    ),
    "scale shortened": (
        "rbf_svm",
        lambda d: d["scaler"]["scale"].pop(),
        "scaler.scale': expected 12 values (feature_length), got 11",
    ),
    "support vector shortened": (
        "rbf_svm",
        lambda d: d["parameters"]["support_vectors"][2].pop(),
        "parameters.support_vectors[2]': expected 12 values",
    ),
    "dual coefficients shortened": (
        "rbf_svm",
        lambda d: d["parameters"]["dual_coef"].pop(),
        "parameters.dual_coef': expected",
    ),
    "negative gamma": (
        "rbf_svm",
        lambda d: d["parameters"].update(gamma=-0.5),
        "parameters.gamma': -0.5 violates exclusiveMinimum 0",
    ),
    "principal axis shortened": (
        "mahalanobis",
        lambda d: d["parameters"]["components"][1].pop(),
        "parameters.components[1]': expected 12 values (feature_length), got 11",
    ),
    "real mean shortened": (
        "mahalanobis",
        lambda d: d["parameters"]["mean"].pop(),
        "parameters.mean': expected 12 values (feature_length), got 11",
    ),
    "kmeans labels of one class": (
        "kmeans",
        lambda d: d["parameters"].update(labels=[1, 1]),
        "parameters.labels': unknown value [1, 1]",
    ),
    "k-means centroid of 1e200 (an overflowing distance)": (
        "kmeans",
        lambda d: put(d["parameters"]["centroids"][0], 0, 1e200),
        "parameters.centroids[0][0]': 1e+200 violates maximum 1000000000000.0",
    ),
    "polynomial degree 10^15": (
        "poly_svm",
        lambda d: d["parameters"].update(degree=10**15),
        "parameters.degree': 1000000000000000 violates maximum 10",
    ),
    "kmeans labels as booleans": (
        "kmeans",
        lambda d: d["parameters"].update(labels=[False, True]),
        "parameters.labels': unknown value [False, True]",
    ),
}


def fitted_model(name: str):
    if name != "kmeans":
        return stored(name)
    X, y, _, _ = toy()
    kmeans = make_classifier({"kind": "kmeans"}, 0)[0].fit(X)
    return from_sklearn(
        kmeans, "celeba", PROVENANCE, calibration=LOGIT, cluster_labels=match_clusters(y, kmeans.predict(X))
    )


@pytest.mark.parametrize("case", TAMPERING)
def test_bad_field_is_refused_by_name(tmp_path, case):
    name, tamper, message = TAMPERING[case]
    path = tmp_path / "m.json"
    save_model(path, fitted_model(name))
    rewrite(path, tamper)
    with pytest.raises(ModelFileError, match=re.escape(f"{path}: field '{message}")):
        load_model(path)


def test_the_schema_is_a_valid_json_schema():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(MODEL_SCHEMA)


def test_a_changed_number_is_refused_by_the_checksum(tmp_path):
    path = tmp_path / "m.json"
    save_model(path, stored("logreg"))
    text = path.read_text()
    coef = json.loads(text)["parameters"]["coef"][0]
    path.write_text(text.replace(json.dumps(coef), json.dumps(coef + 0.5), 1))
    with pytest.raises(ModelFileError, match=re.escape(f"{path}: field 'checksum': does not match the content")):
        load_model(path)


HOSTILE = {
    "401-digit number": lambda text: text.replace('"threshold": 0.5', '"threshold": ' + "9" * 401),
    "401-digit coefficient": lambda text: re.sub(r'"coef": \[[^,]+', '"coef": [' + "1" * 401, text),
    "number beyond float": lambda text: text.replace('"threshold": 0.5', '"threshold": 1e400'),
    "Infinity": lambda text: text.replace('"threshold": 0.5', '"threshold": -Infinity'),
    "nested 10,000 deep": lambda text: text.replace('"threshold": 0.5', '"threshold": ' + "[" * 10_000 + "]" * 10_000),
    "digits beyond Python's limit": lambda text: text.replace('"threshold": 0.5', '"threshold": ' + "9" * 5000),
    "not JSON": lambda text: text[:-5],
    "not UTF-8": lambda text: "\udcff",
}
FIELDS = {
    "401-digit number": "threshold",
    "401-digit coefficient": "parameters.coef[0]",
    "number beyond float": "threshold",
    "Infinity": "threshold",
    "nested 10,000 deep": "threshold",
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_files_raise_model_file_error_naming_file_and_field(tmp_path, case):
    path = tmp_path / "m.json"
    save_model(path, stored("logreg"))
    path.write_bytes(HOSTILE[case](path.read_text()).encode("utf-8", "surrogateescape"))
    with pytest.raises(ModelFileError, match=re.escape(f"{path}: field '{FIELDS.get(case, '(top level)')}'")) as error:
        load_model(path)
    assert len(str(error.value)) < 400, "a message, not the file"


def test_a_folder_is_not_a_model_file(tmp_path):
    with pytest.raises(ModelFileError, match=re.escape(f"{tmp_path}: field '(top level)': a folder, not a model file")):
        load_model(tmp_path)
    with pytest.raises(
        ModelFileError, match=re.escape(f"{tmp_path}/missing.json: no such model file (it does not exist)")
    ):
        load_model(tmp_path / "missing.json")


def test_unsaveable_models(tmp_path):
    broken = dataclasses.replace(stored("logreg"), threshold=math.inf)
    with pytest.raises(ModelFileError, match="field 'threshold': expected a finite number"):
        save_model(tmp_path / "inf.json", broken)
    assert not (tmp_path / "inf.json").exists()
    with pytest.raises(ValueError, match="unknown feature variant"):
        from_sklearn(fitted("logreg"), "faces", PROVENANCE)
    with pytest.raises(ValueError, match="a linear_svm model needs a calibration"):
        from_sklearn(fitted("linear_svm"), "celeba", PROVENANCE)


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


def test_an_inverted_platt_fit_is_corrected_with_a_warning(caplog):
    decision, y = miscalibrated(2000, 0)
    with caplog.at_level(logging.WARNING, logger="unmask.learn.calibration"):
        platt = fit_platt(-decision, y)  # higher decisions are less often fake
    assert platt.a == 0.0
    n_fake, n_real = y.sum(), (1 - y).sum()
    smoothed_fraction_fake = np.mean(np.where(y == 1, (n_fake + 1) / (n_fake + 2), 1 / (n_real + 2)))
    np.testing.assert_allclose(platt(np.array([-5.0, 0.0, 5.0])), smoothed_fraction_fake, rtol=1e-12)
    assert "wrong sign" in caplog.text and "corrected to a = 0" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="unmask.learn.calibration"):
        assert fit_platt(decision, y).a < 0
    assert not caplog.text


def test_calibrated_model_round_trip(tmp_path):
    _, _, X_test, _ = toy()
    estimator = fitted("linear_svm")
    calibration = Platt(-0.8, 0.3)
    save_model(tmp_path / "m.json", from_sklearn(estimator, "celeba", PROVENANCE, calibration=calibration))
    loaded = load_model(tmp_path / "m.json")
    np.testing.assert_allclose(loaded.p_fake(X_test), calibration(estimator.decision_function(X_test)), rtol=1e-9)
    assert loaded.calibration == calibration


def test_calibration_needs_both_classes():
    with pytest.raises(ValueError, match="both 0 and 1"):
        fit_platt([0.1, 0.2], [1, 1])


def test_brier_score_and_reliability_curve_by_hand():
    assert brier_score([0, 1], [0.2, 0.6]) == pytest.approx((0.04 + 0.16) / 2)
    curve = reliability_curve([0, 0, 1, 1, 1, 0], [0.05, 0.15, 0.12, 0.95, 1.0, 0.2], bins=10)
    np.testing.assert_array_equal(curve["count"], [1, 3, 0, 0, 0, 0, 0, 0, 0, 2])  # 0.2 is in (0.1, 0.2]
    np.testing.assert_allclose(curve["mean_predicted"][[0, 1, 9]], [0.05, (0.15 + 0.12 + 0.2) / 3, 0.975])
    np.testing.assert_allclose(curve["fraction_fake"][[0, 1, 9]], [0.0, 1 / 3, 1.0])
    assert np.isnan(curve["fraction_fake"][2]) and curve["bin_low"][9] == pytest.approx(0.9)


def test_an_endless_or_huge_model_file_is_refused_after_a_bounded_read(tmp_path, monkeypatch):
    monkeypatch.setattr("unmask.learn.model_file.MAX_BYTES", 1000)
    with pytest.raises(ModelFileError, match=r"/dev/zero: field '\(top level\)': more than 1000 bytes"):
        load_model("/dev/zero")


def test_a_model_file_is_read_without_preallocating_its_size_limit(tmp_path):
    """read(MAX_BYTES + 1) allocated 1 GiB up front: a MemoryError whenever less address space was left."""
    import subprocess
    import sys

    path = tmp_path / "m.json"
    save_model(path, stored("logreg"))
    script = (
        "import resource, sys\n"
        "from unmask.learn.model_file import load_model\n"
        "size = int(open('/proc/self/status').read().split('VmSize:')[1].split()[0]) * 1024\n"
        "resource.setrlimit(resource.RLIMIT_AS, (size + 256 * 2**20, resource.RLIM_INFINITY))\n"
        "print(load_model(sys.argv[1]).kind)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, "logreg\n"), result.stderr


def test_a_model_file_over_the_size_limit_is_refused_from_its_size(tmp_path):
    from unmask.learn.model_file import MAX_BYTES

    path = tmp_path / "huge.json"
    with open(path, "wb") as file:
        file.truncate(MAX_BYTES + 1)  # sparse: no disk used
    with pytest.raises(ModelFileError, match=re.escape(f"{path}: field '(top level)': more than 67108864 bytes")):
        load_model(path)


def test_the_checksum_is_checked_before_the_schema(tmp_path, monkeypatch):
    """The schema costs ~4 us per number: a 100 MB file of zeros took 4 min 38 s before its checksum refused it."""
    path = tmp_path / "m.json"
    save_model(path, stored("logreg"))
    text = path.read_text()
    coef = json.loads(text)["parameters"]["coef"]
    path.write_text(text.replace(json.dumps(coef), json.dumps([0.0] * 100_000)))

    def schema_check(*args):
        raise AssertionError("the schema ran before the checksum")

    monkeypatch.setattr("unmask.learn.model_file._check_schema", schema_check)
    with pytest.raises(ModelFileError, match=re.escape(f"{path}: field 'checksum': does not match the content")):
        load_model(path)


def test_a_model_over_the_size_limit_is_not_written(tmp_path, monkeypatch):
    """Every model that is written can be loaded again."""
    monkeypatch.setattr("unmask.learn.model_file.MAX_BYTES", 200)
    with pytest.raises(ModelFileError, match=r"m.json: field '\(top level\)': \d+ bytes, more than 200"):
        save_model(tmp_path / "m.json", stored("logreg"))
    assert not (tmp_path / "m.json").exists()
