"""Classifiers: scikit-learn estimators from a classifier spec, and fitted ones as a stored ``Model``."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from unmask.features.spectrum import get_variant
from unmask.learn.calibration import Platt
from unmask.learn.model_file import RBF, Centroids, Linear, Model, Polynomial, Provenance, Scaler, Sigmoid


def make_classifier(spec: dict, seed: int, n_train: int = 0) -> tuple[object, str]:
    """A scikit-learn estimator from a classifier spec, and the name of the solver it uses.

    The spec holds ``kind`` and its parameters (``C``, ``kernel``, ...; the
    config schema fills in their defaults), plus the dataset's ``standardise``
    (scale features to zero mean, unit variance first) and ``liblinear_above``:
    a linear SVM on more training items than that is solved by liblinear
    (``LinearSVC``, hinge loss), the same problem as ``SVC(kernel='linear')``
    but linear rather than quadratic in the items. ``loss: squared_hinge``
    makes that liblinear SVM the L2-loss one, solved in the primal (Newton
    steps: a few dozen iterations where the hinge loss's dual takes 100,000).
    """
    kind, C = spec["kind"], spec.get("C", 1.0)
    if kind == "svm" and spec.get("kernel", "linear") == "linear" and n_train > spec.get("liblinear_above", np.inf):
        if spec.get("loss", "hinge") == "squared_hinge":
            estimator = LinearSVC(C=C, loss="squared_hinge", dual=False, intercept_scaling=10.0, random_state=seed)
            solver = "liblinear primal, squared hinge"
        else:
            estimator = LinearSVC(C=C, loss="hinge", intercept_scaling=10.0, max_iter=100_000, random_state=seed)
            solver = "liblinear"
    elif kind == "svm":
        estimator, solver = SVC(kernel=spec.get("kernel", "linear"), C=C, gamma=spec.get("gamma", "scale")), "libsvm"
    elif kind == "logreg":
        estimator, solver = (
            LogisticRegression(solver="liblinear", C=C, max_iter=spec.get("max_iter", 1000)),
            "liblinear",
        )
    elif kind == "kmeans":
        estimator, solver = KMeans(n_clusters=2, n_init=spec.get("n_init", 10), random_state=seed), "lloyd"
    else:
        raise ValueError(f"unknown classifier kind {kind!r}")
    if spec.get("standardise"):
        return make_pipeline(StandardScaler(), estimator), f"standardised {solver}"
    return estimator, solver


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


def _parameters(
    classifier, labels: tuple[int, int] | None
) -> tuple[str, Linear | RBF | Polynomial | Sigmoid | Centroids]:
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
    if isinstance(classifier, SVC) and classifier.kernel in ("rbf", "poly", "sigmoid"):
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
    raise ValueError(
        f"cannot store a {type(classifier).__name__} ({getattr(classifier, 'kernel', '')} kernel): use SVC, LinearSVC, "
        "LogisticRegression or KMeans"
    )


def from_sklearn(
    estimator,
    variant: str,
    provenance: Provenance,
    calibration: Platt | None = None,
    threshold: float = 0.5,
    cluster_labels: tuple[int, int] | None = None,
) -> Model:
    """A ``Model`` from a fitted estimator (or ``StandardScaler -> estimator`` pipeline).

    A logistic regression without an explicit calibration keeps its own
    probabilities (Platt a = -1, b = 0); other kinds need one (``fit_platt``).
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
