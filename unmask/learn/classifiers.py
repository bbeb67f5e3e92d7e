"""Classifier kinds: one entry of ``KINDS`` per kind of the configuration, and fitted ones as a stored ``Model``.

An entry says how its kind's estimator is built from a classifier spec, fitted, scored and stored in a
model file. A spec's missing parameters take the defaults of the kind's block (``classifier_kinds``) in
the config schema, so a new kind is one entry here and one block there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC, OneClassSVM

from unmask.features.spectrum import get_variant
from unmask.learn.calibration import Platt
from unmask.learn.model_file import (
    RBF,
    Centroids,
    Linear,
    Mahalanobis,
    Model,
    Parameters,
    Polynomial,
    Provenance,
    Scaler,
    Sigmoid,
)
from unmask.schema import classifier_defaults


def match_clusters(y: np.ndarray, clusters: np.ndarray) -> tuple[int, int]:
    """The labels of clusters 0 and 1 under the assignment that agrees better with ``y``."""
    return (0, 1) if np.mean(np.asarray(y) == np.asarray(clusters)) >= 0.5 else (1, 0)


class LabelledKMeans(KMeans):  # type: ignore[misc]  # scikit-learn has no type stubs: KMeans is Any
    """k-means whose fit, given labels, also names its clusters by them (``cluster_labels_``); y never moves them."""

    def fit(
        self, X: np.ndarray, y: np.ndarray | None = None, sample_weight: np.ndarray | None = None
    ) -> LabelledKMeans:
        super().fit(X, sample_weight=sample_weight)
        if y is not None:
            self.cluster_labels_ = match_clusters(y, self.labels_)
        return self


def _fit(estimator: Any, X: np.ndarray, y: np.ndarray) -> Any:
    return estimator.fit(X, y)


def _decide(estimator: Any, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return estimator.predict(X), estimator.decision_function(X)


@dataclass(frozen=True)
class Kind:
    """One classifier kind.

    ``build(spec, seed, n_train, deployed)``: its estimator for a spec with every parameter of the kind,
    and the name of the solver (``deployed``: for the stored model of ``final_model``). ``types``: the
    fitted classifiers it builds, by which ``from_sklearn`` finds the entry. ``export(classifier,
    cluster_labels)``: the model file's kind and parameters of a fitted one. ``fit(estimator, X, y)``
    and ``score(estimator, X, y)`` (predicted labels, scores higher = more fake) are scikit-learn's
    supervised fit and decision function unless given. ``scaled_when_deployed``: the stored model
    standardises its features whatever the dataset's ``standardise``.
    """

    build: Callable[[dict[str, Any], int, int, bool], tuple[Any, str]]
    types: tuple[type, ...]
    export: Callable[[Any, tuple[int, int] | None], tuple[str, Parameters]]
    fit: Callable[[Any, np.ndarray, np.ndarray], Any] = _fit
    score: Callable[[Any, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] = _decide
    scaled_when_deployed: bool = True


def _check_classes(classifier: Any) -> None:
    classes = getattr(classifier, "classes_", None)
    if classes is None or not np.array_equal(classes, [0, 1]):
        raise ValueError(f"classes must be 0 (real) and 1 (fake), got {getattr(classifier, 'classes_', None)}")


def _svm(spec: dict[str, Any], seed: int, n_train: int, deployed: bool) -> tuple[Any, str]:
    """libsvm's SVC; a linear SVM on more than ``liblinear_above`` items is liblinear's (the same problem, but
    linear rather than quadratic in the items): hinge loss, or for the stored model the L2-loss (squared hinge)
    SVM in the primal (Newton steps: a few dozen iterations where the hinge loss's dual takes 100,000)."""
    if spec["kernel"] == "linear" and n_train > spec.get("liblinear_above", np.inf):
        if deployed:
            estimator = LinearSVC(
                C=spec["C"], loss="squared_hinge", dual=False, intercept_scaling=10.0, random_state=seed
            )
            return estimator, "liblinear primal, squared hinge"
        estimator = LinearSVC(C=spec["C"], loss="hinge", intercept_scaling=10.0, max_iter=100_000, random_state=seed)
        return estimator, "liblinear"
    return SVC(kernel=spec["kernel"], C=spec["C"], gamma=spec["gamma"]), "libsvm"


def _export_svm(classifier: Any, labels: tuple[int, int] | None) -> tuple[str, Linear | RBF | Polynomial | Sigmoid]:
    _check_classes(classifier)
    if isinstance(classifier, LinearSVC) or classifier.kernel == "linear":
        return "linear_svm", Linear(np.asarray(classifier.coef_, dtype=np.float64)[0], float(classifier.intercept_[0]))
    if classifier.kernel not in ("rbf", "poly", "sigmoid"):
        raise ValueError(f"cannot store an SVC with a {classifier.kernel} kernel: use linear, rbf, poly or sigmoid")
    # _gamma is the only place sklearn keeps the resolved value of gamma='scale' / 'auto'.
    vectors = np.asarray(classifier.support_vectors_, dtype=np.float64)
    dual_coef, gamma = np.asarray(classifier.dual_coef_, dtype=np.float64)[0], float(classifier._gamma)
    intercept, coef0 = float(classifier.intercept_[0]), float(classifier.coef0)
    svm = {"support_vectors": vectors, "dual_coef": dual_coef, "gamma": gamma, "intercept": intercept}
    if classifier.kernel == "poly":
        return "poly_svm", Polynomial(**svm, coef0=coef0, degree=int(classifier.degree))
    if classifier.kernel == "sigmoid":
        return "sigmoid_svm", Sigmoid(**svm, coef0=coef0)
    return "rbf_svm", RBF(**svm)


def _logreg(spec: dict[str, Any], seed: int, n_train: int, deployed: bool) -> tuple[Any, str]:
    return LogisticRegression(solver="liblinear", C=spec["C"], max_iter=spec["max_iter"]), "liblinear"


def _export_logreg(classifier: Any, labels: tuple[int, int] | None) -> tuple[str, Linear]:
    _check_classes(classifier)
    return "logreg", Linear(classifier.coef_[0].astype(np.float64), float(classifier.intercept_[0]))


def _kmeans(spec: dict[str, Any], seed: int, n_train: int, deployed: bool) -> tuple[Any, str]:
    return LabelledKMeans(n_clusters=2, n_init=spec["n_init"], random_state=seed), "lloyd"


def _score_kmeans(model: Any, X_test: np.ndarray, y_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clusters named by the better of the two assignments on the test part; the score is the distance to
    the "real" centroid minus the distance to the "fake" one."""
    clusters = model.predict(X_test)
    labels = np.array(match_clusters(y_test, clusters))
    distances = model.transform(X_test)
    real, fake = np.argmin(labels), np.argmax(labels)
    return labels[clusters], distances[:, real] - distances[:, fake]


def _export_kmeans(classifier: Any, labels: tuple[int, int] | None) -> tuple[str, Centroids]:
    labels = labels if labels is not None else getattr(classifier, "cluster_labels_", None)
    if classifier.n_clusters != 2 or labels is None:
        raise ValueError("k-means needs 2 clusters and cluster_labels (see match_clusters())")
    first, second = labels
    return "kmeans", Centroids(classifier.cluster_centers_.astype(np.float64), (int(first), int(second)))


class PCAMahalanobis(BaseEstimator):  # type: ignore[misc]  # scikit-learn has no type stubs: BaseEstimator is Any
    """Distance from the training images (all taken as real): the Mahalanobis distance in their first
    ``components`` principal components (whitened PCA), less the distance that a ``contamination`` fraction
    of them exceed. ``decision_function`` > 0, i.e. farther than that: fake (1)."""

    def __init__(self, components: int, contamination: float) -> None:
        self.components = components
        self.contamination = contamination

    def fit(self, X: ArrayLike, y: object = None) -> PCAMahalanobis:
        X = np.asarray(X, dtype=np.float64)
        if len(X) < 2:
            raise ValueError(f"a real-only model needs at least 2 real training images, got {len(X)}")
        pca = PCA(n_components=min(self.components, len(X) - 1, X.shape[1]), svd_solver="full").fit(X)
        kept = pca.explained_variance_ > 1e-12 * max(pca.explained_variance_[0], np.finfo(float).tiny)
        if not kept.any():
            raise ValueError("a real-only model needs real training images that differ; these are all alike")
        self.mean_, self.n_features_in_ = pca.mean_, X.shape[1]
        self.components_ = pca.components_[kept] / np.sqrt(pca.explained_variance_[kept])[:, None]
        self.offset_ = float(np.quantile(self.distance(X), 1 - self.contamination))
        return self

    def distance(self, X: ArrayLike) -> np.ndarray:
        distances: np.ndarray = np.linalg.norm(
            (np.asarray(X, dtype=np.float64) - self.mean_) @ self.components_.T, axis=1
        )
        return distances

    def decision_function(self, X: ArrayLike) -> np.ndarray:
        return self.distance(X) - self.offset_

    def predict(self, X: ArrayLike) -> np.ndarray:
        return (self.decision_function(X) > 0).astype(np.int8)


def _mahalanobis(spec: dict[str, Any], seed: int, n_train: int, deployed: bool) -> tuple[Any, str]:
    return PCAMahalanobis(spec["components"], spec["contamination"]), "whitened PCA"


def _fit_real(estimator: Any, X: np.ndarray, y: np.ndarray) -> Any:
    """Fit on the real items alone (a pipeline's scaler too): the model never sees a fake."""
    return estimator.fit(X[np.asarray(y) == 0])


def _export_mahalanobis(classifier: Any, labels: tuple[int, int] | None) -> tuple[str, Mahalanobis]:
    return "mahalanobis", Mahalanobis(classifier.mean_, classifier.components_, classifier.offset_)


def _one_class_svm(spec: dict[str, Any], seed: int, n_train: int, deployed: bool) -> tuple[Any, str]:
    return OneClassSVM(kernel="rbf", nu=spec["nu"], gamma=spec["gamma"]), "libsvm one-class"


def _score_outside(estimator: Any, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's one-class decision turned round: higher = farther outside the reals' region = more fake."""
    scores = -estimator.decision_function(X)
    return (scores > 0).astype(np.int8), scores


def _export_one_class_svm(classifier: Any, labels: tuple[int, int] | None) -> tuple[str, RBF]:
    vectors, dual_coef = classifier.support_vectors_, -np.asarray(classifier.dual_coef_, dtype=np.float64)[0]
    return "rbf_svm", RBF(
        np.asarray(vectors, dtype=np.float64), dual_coef, float(classifier._gamma), -float(classifier.intercept_[0])
    )


KINDS = {
    "svm": Kind(_svm, (SVC, LinearSVC), _export_svm),
    "logreg": Kind(_logreg, (LogisticRegression,), _export_logreg),
    "kmeans": Kind(_kmeans, (KMeans,), _export_kmeans, score=_score_kmeans, scaled_when_deployed=False),
    "mahalanobis": Kind(
        _mahalanobis, (PCAMahalanobis,), _export_mahalanobis, fit=_fit_real, scaled_when_deployed=False
    ),
    "one_class_svm": Kind(_one_class_svm, (OneClassSVM,), _export_one_class_svm, fit=_fit_real, score=_score_outside),
}


def _kind(name: str) -> Kind:
    if name not in KINDS:
        raise ValueError(f"unknown classifier kind {name!r}; the kinds are {', '.join(KINDS)}")
    return KINDS[name]


def make_classifier(spec: dict[str, Any], seed: int, n_train: int = 0, deployed: bool = False) -> tuple[Any, str]:
    """A scikit-learn estimator from a classifier spec, and the name of the solver it uses.

    The spec holds ``kind`` and its parameters (missing ones take the schema's defaults of the kind),
    plus the dataset's ``standardise`` (scale features to zero mean, unit variance first) and
    ``liblinear_above`` (see ``_svm``). ``deployed``: the estimator of the stored model, standardised
    where its kind is ``scaled_when_deployed``.
    """
    kind = _kind(spec["kind"])
    spec = {**classifier_defaults(spec["kind"]), **spec}
    estimator, solver = kind.build(spec, seed, n_train, deployed)
    if spec.get("standardise") or (deployed and kind.scaled_when_deployed):
        return make_pipeline(StandardScaler(), estimator), f"standardised {solver}"
    return estimator, solver


def fit(estimator: Any, kind: str, X: np.ndarray, y: np.ndarray) -> Any:
    """Fit an estimator of a kind on a training part (as its kind fits: k-means ignores the labels); return it."""
    return _kind(kind).fit(estimator, X, y)


def score(estimator: Any, kind: str, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(predicted labels, scores: higher = more likely fake) of a fitted estimator of a kind on a test part."""
    return _kind(kind).score(estimator, X, y)


def _split_scaler(estimator: Any) -> tuple[Scaler | None, Any]:
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


def _parameters(classifier: Any, labels: tuple[int, int] | None) -> tuple[str, Parameters]:
    """The model kind and numpy parameters of a fitted scikit-learn classifier (by the entry that builds it)."""
    for kind in KINDS.values():
        if isinstance(classifier, kind.types):
            return kind.export(classifier, labels)
    stored = ", ".join(t.__name__ for kind in KINDS.values() for t in kind.types)
    raise ValueError(f"cannot store a {type(classifier).__name__}: use {stored}")


def from_sklearn(
    estimator: Any,
    variant: str,
    provenance: Provenance,
    calibration: Platt | None = None,
    threshold: float = 0.5,
    cluster_labels: tuple[int, int] | None = None,
) -> Model:
    """A ``Model`` from a fitted estimator (or ``StandardScaler -> estimator`` pipeline).

    A logistic regression without an explicit calibration keeps its own
    probabilities (Platt a = -1, b = 0); other kinds need one (``fit_platt``).
    k-means takes ``cluster_labels``, or those its fit with labels gave (``LabelledKMeans``).
    """
    scaler, classifier = _split_scaler(estimator)
    kind, parameters = _parameters(classifier, cluster_labels)
    if calibration is None and kind != "logreg":
        raise ValueError(f"a {kind} model needs a calibration (fit_platt) to give p_fake and labels")
    calibration = calibration or Platt(-1.0, 0.0)
    n_features = int(classifier.n_features_in_)
    return Model(
        kind, parameters, get_variant(variant).name, n_features, provenance, calibration, float(threshold), scaler
    )
