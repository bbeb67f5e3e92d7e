"""Fitted classifiers stored as JSON (never pickle) and applied with numpy alone.

A model file holds one JSON object, one field per line::

    format_version  1
    kind            linear_svm | logreg | rbf_svm | kmeans
    variant         feature variant name (unmask.features.spectrum.VARIANTS)
    feature_length  length of the feature vectors it takes
    threshold       predict fake where decision > threshold
    scaler          null or {mean, scale}: features are (x - mean) / scale first
    parameters      linear: {coef, intercept}
                    rbf_svm: {support_vectors, dual_coef, gamma, intercept}
                    kmeans: {centroids, labels}  (labels[i]: label of cluster i)
    calibration     null, {method: platt, a, b} or {method: isotonic, x, y}
    provenance      {dataset, n_train, seed, unmask_version, sklearn_version[, face_crops]}
                    face_crops: true when trained on face crops (absent: not recorded)

The decision value is "higher = more fake" (label 1). For k-means it is the
squared distance to the real centroid minus that to the fake centroid.
Platt calibration maps a decision value d to ``p_fake = 1 / (1 + exp(a d + b))``
(Platt's convention, a < 0); isotonic calibration interpolates linearly between
its (x, y) thresholds and is constant beyond them. A logistic regression is
stored with Platt a = -1, b = 0, its own probabilities.

``load_model`` checks every field (types, finite numbers, lengths against
``feature_length``, known kind, variant and format version, no unknown fields)
and raises ``ModelFileError`` naming the file and the field.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import ClassVar

import numpy as np
import sklearn
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.cluster import KMeans
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from unmask.io import write_text
from unmask.features.spectrum import VARIANTS, get_variant

FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file that cannot be trusted; the message names the file and the field."""


class _Fields:
    """Checked access to one JSON object of a model file; errors name the file and the field."""

    def __init__(self, data: object, path: str, prefix: str = ""):
        self.path, self.prefix = path, prefix
        if not isinstance(data, dict):
            raise ModelFileError(f"{path}: field '{prefix.rstrip('.') or '(top level)'}': expected an object")
        self.data, self.unread = data, set(data)

    def error(self, key: str, problem: str) -> ModelFileError:
        return ModelFileError(f"{self.path}: field '{self.prefix}{key}': {problem}")

    def get(self, key: str) -> object:
        if key not in self.data:
            raise self.error(key, "missing")
        self.unread.discard(key)
        return self.data[key]

    def _number(self, value: object, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.error(key, f"expected a finite number, got {value!r}")
        return float(value)

    def number(self, key: str) -> float:
        return self._number(self.get(key), key)

    def integer(self, key: str, minimum: int | None = None) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"expected at least {minimum}, got {value}")
        return value

    def string(self, key: str, choices=None) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {value!r}")
        if choices is not None and value not in choices:
            raise self.error(key, f"unknown value {value!r}; expected one of {sorted(choices)}")
        return value

    def _vector(self, value: object, key: str, length: int | None, what: str) -> np.ndarray:
        if not isinstance(value, list) or not value:
            raise self.error(key, "expected a non-empty list of numbers")
        if length is not None and len(value) != length:
            raise self.error(key, f"expected {length} values ({what}), got {len(value)}")
        return np.array([self._number(v, f"{key}[{i}]") for i, v in enumerate(value)])

    def vector(self, key: str, length: int | None = None, what: str = "feature_length") -> np.ndarray:
        return self._vector(self.get(key), key, length, what)

    def matrix(self, key: str, columns: int) -> np.ndarray:
        rows = self.get(key)
        if not isinstance(rows, list) or not rows:
            raise self.error(key, "expected a non-empty list of rows")
        return np.stack([self._vector(row, f"{key}[{i}]", columns, "feature_length") for i, row in enumerate(rows)])

    def section(self, key: str) -> _Fields | None:
        value = self.get(key)
        return None if value is None else _Fields(value, self.path, f"{self.prefix}{key}.")

    def finish(self) -> None:
        """Refuse fields nobody read (a typo or an edit that the model would silently ignore)."""
        if self.unread:
            raise self.error(sorted(self.unread)[0], "unknown field")


def _to_json(component) -> dict:
    """A dataclass's fields as JSON values."""
    return {f.name: _json_value(getattr(component, f.name)) for f in dataclasses.fields(component)}


def _json_value(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class Scaler:
    """Standardisation applied before the classifier: ``(x - mean) / scale``."""

    mean: np.ndarray
    scale: np.ndarray

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (X - self.mean) / self.scale

    @classmethod
    def read(cls, fields: _Fields, feature_length: int) -> Scaler:
        scale = fields.vector("scale", feature_length)
        if (scale <= 0).any():
            raise fields.error(f"scale[{int(np.argmax(scale <= 0))}]", "must be positive")
        return cls(fields.vector("mean", feature_length), scale)


@dataclass(frozen=True)
class Linear:
    """A linear decision ``x . coef + intercept`` (linear SVM, logistic regression)."""

    coef: np.ndarray
    intercept: float

    def decision(self, X: np.ndarray) -> np.ndarray:
        return X @ self.coef + self.intercept

    @classmethod
    def read(cls, fields: _Fields, feature_length: int) -> Linear:
        return cls(fields.vector("coef", feature_length), fields.number("intercept"))


@dataclass(frozen=True)
class RBF:
    """An RBF-kernel SVM: ``sum_i dual_coef_i exp(-gamma |x - sv_i|^2) + intercept``."""

    support_vectors: np.ndarray
    dual_coef: np.ndarray
    gamma: float
    intercept: float

    def decision(self, X: np.ndarray) -> np.ndarray:
        sv = self.support_vectors
        squared = (X**2).sum(axis=1)[:, None] + (sv**2).sum(axis=1)[None, :] - 2.0 * X @ sv.T
        return np.exp(-self.gamma * np.maximum(squared, 0.0)) @ self.dual_coef + self.intercept

    @classmethod
    def read(cls, fields: _Fields, feature_length: int) -> RBF:
        support_vectors = fields.matrix("support_vectors", feature_length)
        dual_coef = fields.vector("dual_coef", len(support_vectors), "one per support vector")
        gamma = fields.number("gamma")
        if gamma <= 0:
            raise fields.error("gamma", f"must be positive, got {gamma}")
        return cls(support_vectors, dual_coef, gamma, fields.number("intercept"))


@dataclass(frozen=True)
class Centroids:
    """Two k-means centroids and the label (0 real, 1 fake) of each cluster."""

    centroids: np.ndarray
    labels: tuple[int, int]

    def decision(self, X: np.ndarray) -> np.ndarray:
        real, fake = self.centroids[self.labels.index(0)], self.centroids[self.labels.index(1)]
        return ((X - real) ** 2).sum(axis=1) - ((X - fake) ** 2).sum(axis=1)

    @classmethod
    def read(cls, fields: _Fields, feature_length: int) -> Centroids:
        centroids = fields.matrix("centroids", feature_length)
        if len(centroids) != 2:
            raise fields.error("centroids", f"expected 2 centroids, got {len(centroids)}")
        labels = fields.get("labels")
        if labels not in ([0, 1], [1, 0]) or any(isinstance(label, bool) for label in labels):
            raise fields.error("labels", f"expected [0, 1] or [1, 0] (one cluster per class), got {labels!r}")
        return cls(centroids, tuple(labels))


KINDS = {"linear_svm": Linear, "logreg": Linear, "rbf_svm": RBF, "kmeans": Centroids}


@dataclass(frozen=True)
class Platt:
    """Platt scaling: ``p_fake = 1 / (1 + exp(a d + b))`` of the decision value d."""

    method: ClassVar[str] = "platt"
    a: float
    b: float

    def __call__(self, decision: np.ndarray) -> np.ndarray:
        return expit(-(self.a * decision + self.b))

    @classmethod
    def read(cls, fields: _Fields) -> Platt:
        return cls(fields.number("a"), fields.number("b"))


@dataclass(frozen=True)
class Isotonic:
    """Isotonic calibration: linear interpolation between thresholds (x: decision, y: p_fake)."""

    method: ClassVar[str] = "isotonic"
    x: np.ndarray
    y: np.ndarray

    def __call__(self, decision: np.ndarray) -> np.ndarray:
        return np.interp(decision, self.x, self.y)

    @classmethod
    def read(cls, fields: _Fields) -> Isotonic:
        x = fields.vector("x")
        y = fields.vector("y", len(x), "one per x")
        if (np.diff(x) < 0).any():
            raise fields.error("x", "must be non-decreasing")
        if (np.diff(y) < 0).any() or y[0] < 0 or y[-1] > 1:
            raise fields.error("y", "must be non-decreasing probabilities in [0, 1]")
        return cls(x, y)


CALIBRATIONS = {"platt": Platt, "isotonic": Isotonic}


@dataclass(frozen=True)
class Provenance:
    """Where a model came from."""

    dataset: str
    n_train: int
    seed: int
    unmask_version: str
    sklearn_version: str
    face_crops: bool | None = None  # trained on face crops; None: not recorded (then not written)

    @classmethod
    def current(cls, dataset: str, n_train: int, seed: int) -> Provenance:
        """Provenance with this installation's unmask and scikit-learn versions."""
        return cls(dataset, n_train, seed, version("unmask"), sklearn.__version__)

    @classmethod
    def read(cls, fields: _Fields) -> Provenance:
        face_crops = fields.get("face_crops") if "face_crops" in fields.data else None
        if face_crops is not None and not isinstance(face_crops, bool):
            raise fields.error("face_crops", f"expected true or false, got {face_crops!r}")
        return cls(
            fields.string("dataset"),
            fields.integer("n_train", minimum=1),
            fields.integer("seed"),
            fields.string("unmask_version"),
            fields.string("sklearn_version"),
            face_crops,
        )


@dataclass(frozen=True)
class Model:
    """A stored classifier: decision values, calibrated p_fake and predictions in numpy."""

    kind: str
    parameters: Linear | RBF | Centroids
    variant: str
    feature_length: int
    provenance: Provenance
    threshold: float = 0.0
    scaler: Scaler | None = None
    calibration: Platt | Isotonic | None = None
    source: str = dataclasses.field(default="model", compare=False)  # file it was loaded from, for messages

    def _features(self, X) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if X.ndim != 2 or X.shape[1] != self.feature_length:
            raise ValueError(
                f"{self.source}: expects {self.feature_length} features ({self.variant}), got shape {X.shape}"
            )
        return X if self.scaler is None else self.scaler.transform(X)

    def decision(self, X) -> np.ndarray:
        """Decision values, higher = more fake (as sklearn's ``decision_function``)."""
        return self.parameters.decision(self._features(X))

    def p_fake(self, X) -> np.ndarray:
        """Calibrated probability that each row is fake."""
        if self.calibration is None:
            raise ValueError(f"{self.source}: the model has no calibration; fit one with fit_platt or fit_isotonic")
        return self.calibration(self.decision(X))

    def predict(self, X) -> np.ndarray:
        """Labels: 1 (fake) where the decision value exceeds the threshold, else 0 (real)."""
        return (self.decision(X) > self.threshold).astype(np.int8)

    def to_json(self) -> dict:
        calibration = None if self.calibration is None else {"method": self.calibration.method, **_to_json(self.calibration)}
        return {
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "variant": self.variant,
            "feature_length": self.feature_length,
            "threshold": self.threshold,
            "scaler": None if self.scaler is None else _to_json(self.scaler),
            "parameters": _to_json(self.parameters),
            "calibration": calibration,
            "provenance": {k: v for k, v in _to_json(self.provenance).items() if k != "face_crops" or v is not None},
        }


def model_from_json(document: object, source: str = "model") -> Model:
    """A ``Model`` from a parsed model file, every field checked; ``ModelFileError`` names ``source`` and the field."""
    fields = _Fields(document, source)
    found = fields.integer("format_version")
    if found != FORMAT_VERSION:
        raise fields.error("format_version", f"version {found} is not supported; this unmask reads {FORMAT_VERSION}")
    kind = fields.string("kind", KINDS)
    feature_length = fields.integer("feature_length", minimum=1)
    model = Model(
        kind=kind,
        parameters=_read_object(fields, "parameters", lambda f: KINDS[kind].read(f, feature_length)),
        variant=fields.string("variant", VARIANTS),
        feature_length=feature_length,
        provenance=_read_object(fields, "provenance", Provenance.read),
        threshold=fields.number("threshold"),
        scaler=_read_object(fields, "scaler", lambda f: Scaler.read(f, feature_length), optional=True),
        calibration=_read_object(fields, "calibration", _read_calibration, optional=True),
        source=source,
    )
    fields.finish()
    return model


def _read_object(fields: _Fields, key: str, read, optional: bool = False):
    """``read`` applied to an object field (None for an optional null), refusing fields it did not read."""
    section = fields.section(key)
    if section is None:
        if optional:
            return None
        raise fields.error(key, "expected an object, got null")
    value = read(section)
    section.finish()
    return value


def _read_calibration(fields: _Fields) -> Platt | Isotonic:
    return CALIBRATIONS[fields.string("method", CALIBRATIONS)].read(fields)


def _dumps(document: dict) -> str:
    """JSON with one top-level field per line and compact arrays (exact float round trip, no NaN)."""
    lines = (f" {json.dumps(key)}: {json.dumps(value, allow_nan=False)}" for key, value in document.items())
    return "{\n" + ",\n".join(lines) + "\n}\n"


def save_model(path: str | Path, model: Model) -> None:
    """Write a model file atomically, after checking that it would load."""
    document = model.to_json()
    model_from_json(document, str(path))
    write_text(path, _dumps(document))


def load_model(path: str | Path, variant: str | None = None, feature_length: int | None = None) -> Model:
    """Read and check a model file, optionally requiring a feature variant and length."""
    try:
        document = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{path}: not a JSON model file ({error})") from None
    model = model_from_json(document, str(path))
    if variant is not None and model.variant != variant:
        raise ModelFileError(f"{path}: field 'variant': the model was trained on {model.variant!r}, not {variant!r}")
    if feature_length is not None and model.feature_length != feature_length:
        raise ModelFileError(
            f"{path}: field 'feature_length': the model takes {model.feature_length} features, not {feature_length}"
        )
    return model


# --- from scikit-learn ----------------------------------------------------------------------------


def match_clusters(y: np.ndarray, clusters: np.ndarray) -> tuple[int, int]:
    """The labels of clusters 0 and 1 under the assignment that agrees better with ``y``."""
    return (0, 1) if np.mean(np.asarray(y) == np.asarray(clusters)) >= 0.5 else (1, 0)


def _split_scaler(estimator) -> tuple[Scaler | None, object]:
    """A ``StandardScaler -> classifier`` pipeline as (Scaler, classifier); a bare classifier as (None, it)."""
    if not isinstance(estimator, Pipeline):
        return None, estimator
    steps = [step for _, step in estimator.steps]
    if len(steps) != 2 or not isinstance(steps[0], StandardScaler):
        raise ValueError("only a StandardScaler followed by a classifier can be stored as a pipeline")
    scaler, classifier = steps
    n = classifier.n_features_in_
    mean = np.zeros(n) if scaler.mean_ is None else scaler.mean_
    scale = np.ones(n) if scaler.scale_ is None else scaler.scale_
    return Scaler(np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64)), classifier


def _parameters(classifier, labels: tuple[int, int] | None) -> tuple[str, Linear | RBF | Centroids]:
    """The model kind and numpy parameters of a fitted scikit-learn classifier."""
    if isinstance(classifier, KMeans):
        if classifier.n_clusters != 2 or labels is None:
            raise ValueError("k-means needs 2 clusters and cluster_labels (see match_clusters())")
        return "kmeans", Centroids(classifier.cluster_centers_.astype(np.float64), tuple(int(v) for v in labels))
    if not np.array_equal(getattr(classifier, "classes_", None), [0, 1]):
        raise ValueError(f"classes must be 0 (real) and 1 (fake), got {getattr(classifier, 'classes_', None)}")
    if isinstance(classifier, LogisticRegression):
        return "logreg", Linear(classifier.coef_[0].astype(np.float64), float(classifier.intercept_[0]))
    if isinstance(classifier, LinearSVC) or (isinstance(classifier, SVC) and classifier.kernel == "linear"):
        return "linear_svm", Linear(np.asarray(classifier.coef_, dtype=np.float64)[0], float(classifier.intercept_[0]))
    if isinstance(classifier, SVC) and classifier.kernel == "rbf":
        # _gamma is the only place sklearn keeps the resolved value of gamma='scale' / 'auto'.
        support_vectors = np.asarray(classifier.support_vectors_, dtype=np.float64)
        dual_coef = np.asarray(classifier.dual_coef_, dtype=np.float64)[0]
        return "rbf_svm", RBF(support_vectors, dual_coef, float(classifier._gamma), float(classifier.intercept_[0]))
    raise ValueError(f"cannot store a {type(classifier).__name__}: use SVC (linear or rbf), LinearSVC, LogisticRegression or KMeans")


def from_sklearn(
    estimator,
    variant: str,
    provenance: Provenance,
    threshold: float = 0.0,
    calibration: Platt | Isotonic | None = None,
    cluster_labels: tuple[int, int] | None = None,
) -> Model:
    """A ``Model`` from a fitted estimator (or ``StandardScaler -> estimator`` pipeline).

    A logistic regression without an explicit calibration keeps its own
    probabilities (Platt a = -1, b = 0).
    """
    scaler, classifier = _split_scaler(estimator)
    kind, parameters = _parameters(classifier, cluster_labels)
    if calibration is None and kind == "logreg":
        calibration = Platt(-1.0, 0.0)
    return Model(kind, parameters, get_variant(variant).name, int(classifier.n_features_in_), provenance, float(threshold), scaler, calibration)


# --- calibration ----------------------------------------------------------------------------------


def _two_classes(decision, y) -> tuple[np.ndarray, np.ndarray]:
    decision, y = np.asarray(decision, dtype=np.float64), np.asarray(y)
    if decision.shape != y.shape or set(np.unique(y)) != {0, 1}:
        raise ValueError("calibration needs decision values and labels of one length, with both 0 and 1 present")
    return decision, y


def fit_platt(decision, y) -> Platt:
    """Platt scaling fitted by maximum likelihood, with Platt's smoothed targets against overfitting."""
    decision, y = _two_classes(decision, y)
    n_fake, n_real = int(y.sum()), int((1 - y).sum())
    target = np.where(y == 1, (n_fake + 1) / (n_fake + 2), 1 / (n_real + 2))

    def loss(ab: np.ndarray) -> tuple[float, np.ndarray]:
        z = ab[0] * decision + ab[1]  # p_fake = expit(-z)
        residual = expit(z) - (1 - target)
        return float(np.sum(np.logaddexp(0, z) - (1 - target) * z)), np.array([residual @ decision, residual.sum()])

    result = minimize(loss, x0=[0.0, math.log((n_real + 1) / (n_fake + 1))], jac=True, method="BFGS")
    return Platt(float(result.x[0]), float(result.x[1]))


def fit_isotonic(decision, y) -> Isotonic:
    """Isotonic regression of the label on the decision value, kept as its interpolation thresholds."""
    decision, y = _two_classes(decision, y)
    regression = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(decision, y)
    return Isotonic(regression.X_thresholds_.astype(np.float64), regression.y_thresholds_.astype(np.float64))


def brier_score(y, p_fake) -> float:
    """Mean squared difference between p_fake and the label (0 is perfect)."""
    return float(np.mean((np.asarray(p_fake, dtype=np.float64) - np.asarray(y)) ** 2))


def reliability_curve(y, p_fake, bins: int = 10) -> dict[str, np.ndarray]:
    """Per equal-width probability bin: its edges, mean predicted p_fake, fraction fake and count (NaN if empty)."""
    y, p_fake = np.asarray(y, dtype=np.float64), np.asarray(p_fake, dtype=np.float64)
    index = np.clip((p_fake * bins).astype(int), 0, bins - 1)
    count = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_predicted = np.bincount(index, p_fake, minlength=bins) / count
        fraction_fake = np.bincount(index, y, minlength=bins) / count
    edges = np.linspace(0.0, 1.0, bins + 1)
    return {
        "bin_low": edges[:-1],
        "bin_high": edges[1:],
        "mean_predicted": mean_predicted,
        "fraction_fake": fraction_fake,
        "count": count,
    }
