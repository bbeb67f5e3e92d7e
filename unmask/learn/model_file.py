"""The model file: a fitted classifier stored as JSON (never pickle), checked on load, applied with numpy alone.

A model file holds one JSON object, one field per line::

    format_version  2
    kind            linear_svm | logreg | rbf_svm | poly_svm | sigmoid_svm | kmeans | mahalanobis
    variant         feature variant name (unmask.features.spectrum.VARIANTS)
    feature_length  length of the feature vectors it takes
    threshold       the label is fake where p_fake >= threshold (0.5 unless chosen otherwise)
    scaler          null or {mean, scale}: features are (x - mean) / scale first
    parameters      linear: {coef, intercept}
                    rbf_svm: {support_vectors, dual_coef, gamma, intercept}
                    poly_svm: {support_vectors, dual_coef, gamma, coef0, degree, intercept}
                    sigmoid_svm: {support_vectors, dual_coef, gamma, coef0, intercept}
                    kmeans: {centroids, labels}  (labels[i]: label of cluster i)
                    mahalanobis: {mean, components, offset}: |(x - mean) components^T| - offset
    calibration     {method: platt, a, b}: p_fake = 1 / (1 + exp(a d + b)), a <= 0
    provenance      {dataset, n_train, seed, unmask_version, sklearn_version[, face_crops][, fft_engine]}
                    face_crops: true when trained on face crops (absent: not recorded)
                    fft_engine: the FFT engines that computed the training features
    domain          (optional) the training images: sizes, formats, JPEG qualities, face crops,
                    native spectrum lengths (``unmask.learn.domain``); absent in older files
    conformal       (optional) the decision values of a user's own real images and the chosen
                    false-positive rate (``unmask calibrate``, ``unmask.learn.conformal``)
    checksum        "sha256:" + the SHA-256 of the canonical JSON of every other field

The decision value d is "higher = more fake" (label 1). For k-means it is the
distance to the real centroid minus that to the fake centroid (the score of
``protocol.score``, on which its calibration is fitted). The
label is read off p_fake, so the two never disagree.

``load_model`` reads at most ``MAX_BYTES``, then checks the checksum (cheap:
a corrupted file is refused before the costly per-number checks), then the
file against ``MODEL_SCHEMA`` (a JSON Schema: types, finite and bounded
numbers, known kind, variant and format version, no unknown fields), then
what a schema cannot state (lengths against ``feature_length``). A file with a
number that is not a finite float is refused by that number's field, checksum
or not. Every refusal is a ``ModelFileError`` naming the file and the field.
The checksum catches corruption and accidental edits; it is not a signature:
anyone can compute it for a file they changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast

import jsonschema
import numpy as np
import sklearn
from numpy.typing import ArrayLike

from unmask.features import fourier
from unmask.features.spectrum import VARIANTS
from unmask.io import write_text
from unmask.learn.calibration import Platt
from unmask.learn.conformal import MAX_SCORES, Conformal
from unmask.learn.domain import DOMAIN_SCHEMA

FORMAT_VERSION = 2


class ModelFileError(ValueError):
    """A model file that cannot be trusted; the message names the file and the field."""


MAX_ABS = 1e12  # no parameter of a fitted model comes near (features are log magnitudes, at most ~600)
_NUMBER = {"type": "number", "minimum": -MAX_ABS, "maximum": MAX_ABS}
_NUMBERS = {"type": "array", "minItems": 1, "items": _NUMBER}
_LINEAR = {"properties": {"coef": _NUMBERS, "intercept": _NUMBER}, "required": ["coef", "intercept"]}
_RBF: dict[str, Any] = {
    "properties": {
        "support_vectors": {"type": "array", "minItems": 1, "items": _NUMBERS},
        "dual_coef": _NUMBERS,
        "gamma": {"type": "number", "exclusiveMinimum": 0, "maximum": 1e6},
        "intercept": _NUMBER,
    },
    "required": ["support_vectors", "dual_coef", "gamma", "intercept"],
}
_SIGMOID: dict[str, Any] = {
    "properties": dict(_RBF["properties"], coef0=_NUMBER),
    "required": [*_RBF["required"], "coef0"],
}
_POLY = {
    "properties": dict(_SIGMOID["properties"], degree={"type": "integer", "minimum": 0, "maximum": 10}),
    "required": [*_SIGMOID["required"], "degree"],
}
_CENTROIDS = {
    "properties": {
        "centroids": {"type": "array", "minItems": 2, "maxItems": 2, "items": _NUMBERS},
        "labels": {"enum": [[0, 1], [1, 0]], "description": "the label of each cluster: one cluster per class"},
    },
    "required": ["centroids", "labels"],
}
_MAHALANOBIS = {
    "properties": {
        "mean": _NUMBERS,
        "components": {"type": "array", "minItems": 1, "items": _NUMBERS},
        "offset": {"type": "number"},
    },
    "required": ["mean", "components", "offset"],
}
PARAMETERS = {
    "linear_svm": _LINEAR,
    "logreg": _LINEAR,
    "rbf_svm": _RBF,
    "poly_svm": _POLY,
    "sigmoid_svm": _SIGMOID,
    "kmeans": _CENTROIDS,
    "mahalanobis": _MAHALANOBIS,
}
MODEL_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "unmask model file",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "format_version",
        "kind",
        "variant",
        "feature_length",
        "threshold",
        "scaler",
        "parameters",
        "calibration",
        "provenance",
        "checksum",
    ],
    "properties": {
        "format_version": {"const": FORMAT_VERSION},
        "kind": {"enum": sorted(PARAMETERS)},
        "variant": {"enum": sorted(VARIANTS)},
        "feature_length": {"type": "integer", "minimum": 1},
        "threshold": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "scaler": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["mean", "scale"],
                    "properties": {
                        "mean": _NUMBERS,
                        "scale": dict(_NUMBERS, items={"type": "number", "exclusiveMinimum": 0, "maximum": MAX_ABS}),
                    },
                },
            ]
        },
        "parameters": {"type": "object"},
        "calibration": {
            "type": "object",
            "additionalProperties": False,
            "required": ["method", "a", "b"],
            "properties": {
                "method": {"const": "platt"},
                "a": {"type": "number", "minimum": -MAX_ABS, "maximum": 0},
                "b": _NUMBER,
            },
        },
        "provenance": {
            "type": "object",
            "additionalProperties": False,
            "required": ["dataset", "n_train", "seed", "unmask_version", "sklearn_version"],
            "properties": {
                "dataset": {"type": "string"},
                "n_train": {"type": "integer", "minimum": 1},
                "seed": {"type": "integer"},
                "unmask_version": {"type": "string"},
                "sklearn_version": {"type": "string"},
                "face_crops": {"type": "boolean"},
                "fft_engine": {"type": "string", "maxLength": 200},
            },
        },
        "domain": DOMAIN_SCHEMA,
        "conformal": {
            "type": "object",
            "additionalProperties": False,
            "required": ["method", "fpr", "n", "scores"],
            "properties": {
                "method": {"const": "conformal"},
                "fpr": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "exclusiveMaximum": 1,
                    "description": "fake where the p-value is at most this: the false-positive rate promised",
                },
                "n": {"type": "integer", "minimum": 1, "maximum": MAX_SCORES, "description": "real images scored"},
                "scores": dict(_NUMBERS, maxItems=MAX_SCORES, description="decision values of the real images, sorted"),
            },
        },
        "checksum": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
    },
    "allOf": [
        {
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": {"properties": {"parameters": dict(schema, type="object", additionalProperties=False)}},
        }
        for kind, schema in PARAMETERS.items()
    ],
}
_NUMBER_RULES = {"minimum": np.less, "maximum": np.greater, "exclusiveMinimum": np.less_equal}
_NUMBER_RULES["exclusiveMaximum"] = np.greater_equal  # a value v breaks rule r where r(v, bound)


def _plain_numbers_pass(values: list[object], rules: dict[str, Any]) -> bool:
    """Whether every value is an int or float (no bool, nothing kept as text) within ``rules``' bounds."""
    if not all(type(value) is float or type(value) is int for value in values):
        return False
    array = np.asarray(values, dtype=np.float64)
    return not any(_NUMBER_RULES[key](array, bound).any() for key, bound in rules.items() if key != "type")


def _items(validator: Any, items: Any, instance: Any, schema: Any) -> Iterator[jsonschema.ValidationError]:
    """JSON Schema's ``items``, at numpy speed for a list of numbers that passes (the standard check costs ~4-20 us
    per number: 30 s for an RBF SVM of 2,000 support vectors); the standard check finds and names any violation."""
    rules = items if isinstance(items, dict) else {}
    if rules.get("type") == "number" and set(rules) <= {"type", *_NUMBER_RULES} and isinstance(instance, list):
        if _plain_numbers_pass(instance, rules):
            return
    yield from _STANDARD_ITEMS(validator, items, instance, schema)


_STANDARD_ITEMS = jsonschema.Draft202012Validator.VALIDATORS["items"]
_VALIDATOR = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"items": _items})(MODEL_SCHEMA)


class _Unrepresentable(str):
    """A JSON number that is not a finite float (NaN, Infinity, 1e400, a 401-digit integer), kept as its text."""


def _finite(value: object) -> tuple[object, bool]:
    """``value`` with every number that is not a finite float (1e400, a 401-digit integer) kept as its text, and
    whether there was one (NaN and Infinity are kept as text by the parser)."""
    if isinstance(value, _Unrepresentable):
        return value, True
    if isinstance(value, float) and not math.isfinite(value):
        return _Unrepresentable(repr(value)), True
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _LARGEST_FLOAT:
        return _Unrepresentable(str(value)), True
    if isinstance(value, list):
        if all(type(item) is float or type(item) is int for item in value):  # a vector: checked at numpy speed
            try:
                if np.isfinite(np.asarray(value, dtype=np.float64)).all():
                    return value, False
            except OverflowError:  # an integer beyond float
                pass
        items = [_finite(item) for item in value]
        return [item for item, _ in items], any(kept for _, kept in items)
    if isinstance(value, dict):
        entries = {key: _finite(item) for key, item in value.items()}
        return {key: item for key, (item, _) in entries.items()}, any(kept for _, kept in entries.values())
    return value, False


_LARGEST_FLOAT = int(np.finfo(np.float64).max)


MAX_DEPTH = 8  # a model file nests 4 deep (top level, parameters, support_vectors, one vector)
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?|[\[\]{}]')


def _too_deep(text: str) -> str | None:
    """The top-level field under which ``text`` nests deeper than ``MAX_DEPTH`` (``(top level)`` if none), or None.

    Checked before parsing, so deep nesting is refused by its field instead of exhausting the recursion limit.
    """
    depth, field = 0, "(top level)"
    for token in _TOKENS.finditer(text):
        symbol = token.group()
        if symbol in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return field
        elif symbol in "]}":
            depth -= 1
        elif depth == 1 and token.group(1):  # a key of the top-level object
            field = json.loads(symbol[: -len(token.group(1))])
    return None


def _parse(text: str, source: str) -> tuple[object, bool]:
    """JSON with every number that is not a finite float kept as text (so the schema refuses it by its field), and
    whether there was such a number."""
    if (field := _too_deep(text)) is not None:
        raise ModelFileError(f"{source}: field '{field[:60]}': nested more than {MAX_DEPTH} deep")
    try:
        document = json.loads(text, parse_constant=_Unrepresentable)  # no per-number hook: 10x faster
    except ValueError as error:  # JSONDecodeError, or an integer beyond Python's digit limit
        raise ModelFileError(
            f"{source}: field '(top level)': not a JSON model file ({_short(str(error), 200)[1:-1]})"
        ) from None
    return _finite(document)


def _field(path: Iterable[str | int]) -> str:
    """A JSON path as ``parameters.coef[3]``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "(top level)"


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _schema_problem(error: jsonschema.ValidationError) -> str:
    """A short message for one schema violation (never the whole instance: coefficient lists are long)."""
    if isinstance(error.instance, _Unrepresentable):
        return f"expected a finite number, got {_short(str(error.instance))}"
    if error.validator == "additionalProperties":
        return f"unknown field: {error.message.split('(')[-1].rstrip(')')}"
    if error.validator == "required":
        message: str = error.message
        return message
    if error.validator in ("const", "enum"):
        return f"unknown value {_short(error.instance)}; expected {_short(error.validator_value, 200)}"
    if error.validator == "type":
        return f"expected {error.validator_value}, got {_short(error.instance)}"
    return f"{_short(error.instance)} violates {error.validator} {error.validator_value!r}"


def _check_schema(document: object, source: str) -> None:
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(document))
    if error is not None:
        raise ModelFileError(f"{source}: field '{_field(error.absolute_path)}': {_schema_problem(error)}")


def _check_lengths(document: dict[str, Any], source: str) -> None:
    """What the schema cannot state: every vector has ``feature_length`` values, one dual coefficient per vector."""
    n = document["feature_length"]
    parameters = document["parameters"]
    vectors = [(f"parameters.{key}", parameters.get(key)) for key in ("coef", "mean")]
    vectors += [
        (f"parameters.{key}[{i}]", row)
        for key in ("support_vectors", "centroids", "components")
        for i, row in enumerate(parameters.get(key, []))
    ]
    if document["scaler"] is not None:
        vectors += [(f"scaler.{key}", document["scaler"][key]) for key in ("mean", "scale")]
    for field, values in vectors:
        if values is not None and len(values) != n:
            raise ModelFileError(f"{source}: field '{field}': expected {n} values (feature_length), got {len(values)}")
    conformal = document.get("conformal")
    if conformal is not None and (
        conformal["n"] != len(conformal["scores"]) or conformal["scores"] != sorted(conformal["scores"])
    ):
        raise ModelFileError(f"{source}: field 'conformal.scores': expected n = {conformal['n']} values, sorted")
    if "dual_coef" in parameters and len(parameters["dual_coef"]) != len(parameters["support_vectors"]):
        raise ModelFileError(
            f"{source}: field 'parameters.dual_coef': expected {len(parameters['support_vectors'])} values "
            f"(one per support vector), got {len(parameters['dual_coef'])}"
        )


def checksum(document: dict[str, Any]) -> str:
    """``sha256:`` and the SHA-256 of the canonical JSON (sorted keys, no spaces) of every field but the checksum."""
    content = {key: value for key, value in document.items() if key != "checksum"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Scaler:
    """Standardisation applied before the classifier: ``(x - mean) / scale``."""

    mean: np.ndarray
    scale: np.ndarray

    def transform(self, X: np.ndarray) -> np.ndarray:
        result: np.ndarray = (X - self.mean) / self.scale
        return result


@dataclass(frozen=True)
class Linear:
    """A linear decision ``x . coef + intercept`` (linear SVM, logistic regression)."""

    coef: np.ndarray
    intercept: float

    def decision(self, X: np.ndarray) -> np.ndarray:
        result: np.ndarray = X @ self.coef + self.intercept
        return result


@dataclass(frozen=True)
class _KernelSVM:
    """A kernel SVM: ``sum_i dual_coef_i k(x, sv_i) + intercept``, for the subclass's kernel ``k``."""

    support_vectors: np.ndarray
    dual_coef: np.ndarray
    gamma: float
    intercept: float

    def kernel(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError  # each subclass's kernel

    def decision(self, X: np.ndarray) -> np.ndarray:
        result: np.ndarray = self.kernel(X) @ self.dual_coef + self.intercept
        return result


@dataclass(frozen=True)
class RBF(_KernelSVM):
    """An RBF-kernel SVM: ``k(x, sv) = exp(-gamma |x - sv|^2)``."""

    def kernel(self, X: np.ndarray) -> np.ndarray:
        sv = self.support_vectors
        squared = (X**2).sum(axis=1)[:, None] + (sv**2).sum(axis=1)[None, :] - 2.0 * X @ sv.T
        result: np.ndarray = np.exp(-self.gamma * np.maximum(squared, 0.0))
        return result


@dataclass(frozen=True)
class Polynomial(_KernelSVM):
    """A polynomial-kernel SVM: ``k(x, sv) = (gamma x . sv + coef0)^degree``."""

    coef0: float
    degree: int

    def kernel(self, X: np.ndarray) -> np.ndarray:
        result: np.ndarray = (self.gamma * X @ self.support_vectors.T + self.coef0) ** self.degree
        return result


@dataclass(frozen=True)
class Sigmoid(_KernelSVM):
    """A sigmoid-kernel SVM: ``k(x, sv) = tanh(gamma x . sv + coef0)``."""

    coef0: float

    def kernel(self, X: np.ndarray) -> np.ndarray:
        result: np.ndarray = np.tanh(self.gamma * X @ self.support_vectors.T + self.coef0)
        return result


@dataclass(frozen=True)
class Centroids:
    """Two k-means centroids and the label (0 real, 1 fake) of each cluster."""

    centroids: np.ndarray
    labels: tuple[int, int]

    def decision(self, X: np.ndarray) -> np.ndarray:
        real, fake = self.centroids[self.labels.index(0)], self.centroids[self.labels.index(1)]
        result: np.ndarray = np.linalg.norm(X - real, axis=1) - np.linalg.norm(X - fake, axis=1)
        return result


@dataclass(frozen=True)
class Mahalanobis:
    """Distance from the real images: ``|(x - mean) components^T| - offset``, the rows of ``components`` being
    their principal axes divided by the standard deviation along each (a real-only model)."""

    mean: np.ndarray
    components: np.ndarray
    offset: float

    def decision(self, X: np.ndarray) -> np.ndarray:
        result: np.ndarray = np.linalg.norm((X - self.mean) @ self.components.T, axis=1) - self.offset
        return result


KINDS = {
    "linear_svm": Linear,
    "logreg": Linear,
    "rbf_svm": RBF,
    "poly_svm": Polynomial,
    "sigmoid_svm": Sigmoid,
    "kmeans": Centroids,
    "mahalanobis": Mahalanobis,
}


Parameters = Linear | _KernelSVM | Centroids | Mahalanobis  # a model's kind's parameters


@dataclass(frozen=True)
class Provenance:
    """Where a model came from."""

    dataset: str
    n_train: int
    seed: int
    unmask_version: str
    sklearn_version: str
    face_crops: bool | None = None  # trained on face crops; None: not recorded (then not written)
    fft_engine: str | None = None  # the FFT engines of the training features; None: not recorded

    @classmethod
    def current(cls, dataset: str, n_train: int, seed: int) -> Provenance:
        """Provenance with this installation's unmask, scikit-learn and FFT engine versions."""
        return cls(dataset, n_train, seed, version("unmask"), sklearn.__version__, fft_engine=fourier.engines())


def _as_arrays(fields: dict[str, Any]) -> dict[str, Any]:
    """JSON lists as float arrays (k-means cluster labels as a tuple)."""
    return {
        key: tuple(value)
        if key == "labels"
        else np.asarray(value, dtype=np.float64)
        if isinstance(value, list)
        else value
        for key, value in fields.items()
    }


def _to_json(component: Any) -> dict[str, Any]:
    """A dataclass's fields as JSON values."""
    return {f.name: _json_value(getattr(component, f.name)) for f in dataclasses.fields(component)}


def _json_value(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.tolist()
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class Model:
    """A stored classifier: decision values, calibrated p_fake and labels in numpy."""

    kind: str
    parameters: Parameters
    variant: str
    feature_length: int
    provenance: Provenance
    calibration: Platt
    threshold: float = 0.5
    scaler: Scaler | None = None
    domain: dict[str, Any] | None = None  # the training images (``unmask.learn.domain``); None: not recorded
    conformal: Conformal | None = None  # a calibration on a user's own real images (``unmask calibrate``)
    source: str = dataclasses.field(default="model", compare=False)  # file it was loaded from, for messages

    def _features(self, rows: ArrayLike) -> np.ndarray:
        X = np.atleast_2d(np.asarray(rows, dtype=np.float64))
        if X.ndim != 2 or X.shape[1] != self.feature_length:
            raise ValueError(
                f"{self.source}: expects {self.feature_length} features ({self.variant}), got shape {X.shape}"
            )
        return X if self.scaler is None else self.scaler.transform(X)

    def decision(self, X: ArrayLike) -> np.ndarray:
        """Decision values, higher = more fake (as sklearn's ``decision_function``)."""
        return self.parameters.decision(self._features(X))

    def p_fake(self, X: ArrayLike) -> np.ndarray:
        """Calibrated probability that each row is fake."""
        return self.calibration(self.decision(X))

    def is_fake(self, p_fake: ArrayLike) -> np.ndarray:
        """The label rule: 1 (fake) where p_fake >= threshold, else 0 (real)."""
        return (np.asarray(p_fake) >= self.threshold).astype(np.int8)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Labels of feature rows: ``is_fake(p_fake(X))``."""
        return self.is_fake(self.p_fake(X))

    def to_json(self) -> dict[str, Any]:
        """The model file's content, checksum included."""
        document = {
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "variant": self.variant,
            "feature_length": self.feature_length,
            "threshold": self.threshold,
            "scaler": None if self.scaler is None else _to_json(self.scaler),
            "parameters": _to_json(self.parameters),
            "calibration": {"method": self.calibration.method, **_to_json(self.calibration)},
            "provenance": {k: v for k, v in _to_json(self.provenance).items() if v is not None},
        }
        if self.domain is not None:
            document["domain"] = self.domain
        if self.conformal is not None:
            document["conformal"] = self.conformal.to_json()
        return {**document, "checksum": checksum(document)}


def _check_checksum(document: object, source: str) -> dict[str, Any]:
    """The checksum first: one pass over the content, where the schema costs ~4 us per number; the document."""
    if not isinstance(document, dict) or not isinstance(document.get("checksum"), str):
        _check_schema(document, source)  # names what is missing
    checked = cast(dict[str, Any], document)  # _check_schema refused anything but an object with a checksum
    if checked["checksum"] != checksum(checked):
        raise ModelFileError(
            f"{source}: field 'checksum': does not match the content: the file was changed or corrupted after it was "
            "written (the checksum catches corruption; it is not a signature)"
        )
    return checked


def model_from_json(document: object, source: str = "model", unrepresentable: bool = False) -> Model:
    """A ``Model`` from a parsed model file: checksum, schema, then lengths; ``ModelFileError`` names ``source`` and
    the field. With ``unrepresentable`` (the parse kept a number as text), the schema goes first to name its field."""
    if unrepresentable:
        _check_schema(document, source)
    document = _check_checksum(document, source)
    _check_schema(document, source)
    _check_lengths(document, source)
    calibration = {key: value for key, value in document["calibration"].items() if key != "method"}
    conformal = document.get("conformal")
    return Model(
        kind=document["kind"],
        parameters=KINDS[document["kind"]](**_as_arrays(document["parameters"])),
        variant=document["variant"],
        feature_length=document["feature_length"],
        provenance=Provenance(**document["provenance"]),
        calibration=Platt(**calibration),
        threshold=document["threshold"],
        scaler=None if document["scaler"] is None else Scaler(**_as_arrays(document["scaler"])),
        domain=document.get("domain"),
        conformal=None if conformal is None else Conformal(np.asarray(conformal["scores"]), conformal["fpr"]),
        source=source,
    )


def _parsed(text: str, source: str) -> tuple[object, str, bool]:
    """``model_from_json``'s arguments for a file's text."""
    document, unrepresentable = _parse(text, source)
    return document, source, unrepresentable


def _dumps(document: dict[str, Any]) -> str:
    """JSON with one top-level field per line and compact arrays (exact float round trip)."""
    lines = (f" {json.dumps(key)}: {json.dumps(value)}" for key, value in document.items())
    return "{\n" + ",\n".join(lines) + "\n}\n"


def save_model(path: str | Path, model: Model) -> None:
    """Write a model file atomically, after checking that it would load (so no NaN or infinity is ever written)."""
    text = _dumps(model.to_json())
    if len(text.encode()) > MAX_BYTES:  # what load_model would refuse
        raise ModelFileError(f"{path}: field '(top level)': {len(text.encode())} bytes, more than {MAX_BYTES}")
    model_from_json(*_parsed(text, str(path)))
    write_text(path, text)


MAX_BYTES = 64 << 20  # 64 MiB: an RBF SVM with 2,000 support vectors of 722 values is ~30 MB; a linear model ~20 kB
_CHUNK = 1 << 20


def _read_bounded(path: Path) -> bytes:
    """At most ``MAX_BYTES`` of a file, read in chunks (a device or a pipe may never end; nothing is preallocated)."""
    with open(path, "rb") as file:
        if os.fstat(file.fileno()).st_size > MAX_BYTES:  # a regular file too large: refused before any read
            raise ModelFileError(
                f"{path}: field '(top level)': more than {MAX_BYTES} bytes, too large for a model file"
            )
        chunks, size = [], 0
        while chunk := file.read(_CHUNK):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BYTES:
                raise ModelFileError(
                    f"{path}: field '(top level)': more than {MAX_BYTES} bytes, too large for a model file"
                )
    return b"".join(chunks)


def load_model(path: str | Path, variant: str | None = None, feature_length: int | None = None) -> Model:
    """Read and check a model file, optionally requiring a feature variant and length."""
    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path}: field '(top level)': a folder, not a model file")
    if not os.path.lexists(path):
        raise ModelFileError(f"{path}: no such model file (it does not exist)")
    try:
        text = _read_bounded(path).decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ModelFileError(f"{path}: field '(top level)': cannot be read ({error})") from None
    model = model_from_json(*_parsed(text, str(path)))
    if variant is not None and model.variant != variant:
        raise ModelFileError(f"{path}: field 'variant': the model was trained on {model.variant!r}, not {variant!r}")
    if feature_length is not None and model.feature_length != feature_length:
        raise ModelFileError(
            f"{path}: field 'feature_length': the model takes {model.feature_length} features, not {feature_length}"
        )
    return model
