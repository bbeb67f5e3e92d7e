"""Load and validate the workflow configuration; fill in defaults; name the bad key on error."""

from __future__ import annotations

import argparse
import copy
import functools
import logging
import math
from pathlib import Path

import jsonschema
import yaml

from unmask.features.spectrum import VARIANTS
from unmask.schema import SCHEMA_PATH
from unmask.schema import load as _schema

logger = logging.getLogger(__name__)


class ConfigError(ValueError):
    """The configuration does not match the schema; the message names the key."""


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: its keys may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise ConfigError(f"{self.name}, line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(path: str | Path) -> object:
    """A YAML file's content, or ``ConfigError`` naming the file and a duplicate key or what is not YAML."""
    with open(path, encoding="utf-8") as stream:
        try:
            return yaml.load(stream, Loader=_StrictLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            where = f", line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{path}{where}: not valid YAML ({error.problem})") from None


def _with_defaults(validator_class):
    """A validator class that also fills in each property's ``default``."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    # JSON Schema counts 2.0 as an integer; Python's range() and the file names built from it do not
    whole_numbers = validator_class.TYPE_CHECKER.redefine(
        "integer", lambda checker, instance: isinstance(instance, int) and not isinstance(instance, bool)
    )
    return jsonschema.validators.extend(validator_class, {"properties": set_defaults}, type_checker=whole_numbers)


def _location(error: jsonschema.ValidationError) -> str:
    parts = []
    for part in error.absolute_path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts).lstrip(".") or "(top level)"


def _describe(error: jsonschema.ValidationError, config: dict) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"unknown key {', '.join(map(repr, unknown))}{hint}"
    if error.validator == "not" and error.validator_value == {}:
        return "this key does not apply here"
    if error.validator == "type" and "propertyNames" in error.relative_schema_path:
        unquoted = "YAML reads unquoted numbers, yes, no, on, off, null so"
        return f"the name {error.instance!r} is not text ({unquoted}); quote it"
    if error.validator == "pattern" and "propertyNames" in error.relative_schema_path:
        return f"the name {error.instance!r} does not match {error.validator_value} (letters, digits, _ . -; no '..')"
    if "propertyNames" in error.relative_schema_path:
        source = functools.reduce(lambda node, key: node[key], error.absolute_path, config)
        method = source.get("method", "local")
        return f"unknown key {error.instance!r} for method {method}; allowed: {', '.join(error.validator_value)}"
    if error.validator == "not" and error.validator_value == {"required": ["path", "videos"]}:
        return "a source has either `path` (images) or `videos`, not both"
    if error.validator == "oneOf" and "archive" in str(error.schema):
        return "an archive source needs exactly one of url, drive_id or file"
    return error.message


def _non_finite(node: object, key: str = "") -> list[tuple[str, float]]:
    """(key, value) of every NaN or infinity in a loaded configuration (YAML's .nan, .inf)."""
    if isinstance(node, float) and not math.isfinite(node):
        return [(key or "(top level)", node)]
    if isinstance(node, dict):
        return [found for name, value in node.items() for found in _non_finite(value, f"{key}.{name}".lstrip("."))]
    if isinstance(node, list):
        return [found for index, value in enumerate(node) for found in _non_finite(value, f"{key}[{index}]")]
    return []


MOVED_VIDEO_KEYS = {"margin": "margin", "yunet_model": "model"}  # video.<key> -> faces.<key>


def _migrate_face_keys(config: dict) -> None:
    """Move the old ``video.margin`` and ``video.yunet_model`` to ``faces``, saying so on stderr."""
    for name, dataset in (config.get("datasets") or {}).items():
        video = dataset.get("video") if isinstance(dataset, dict) else None
        if not isinstance(video, dict):
            continue
        for old, new in MOVED_VIDEO_KEYS.items():
            if old not in video:
                continue
            faces = dataset.setdefault("faces", {})
            if new in faces:
                raise ConfigError(
                    f"invalid configuration:\n  datasets.{name}.video.{old}: moved to faces.{new}, "
                    f"which is also given; keep only datasets.{name}.faces.{new}"
                )
            faces[new] = video.pop(old)
            if old == "yunet_model" and faces[new] is not None:
                faces["detector"] = "yunet"  # the old key meant: use YuNet
            logger.warning(
                f"unmask: datasets.{name}.video.{old} is now datasets.{name}.faces.{new}; "
                f"please rename it in your configuration"
            )


def _add_classifier_kinds(definitions: dict) -> None:
    """Make each block of ``classifier_kinds`` the case of its kind in ``classifier``: its keys only, its defaults."""
    kinds, classifier = definitions["classifier_kinds"], definitions["classifier"]
    classifier["properties"]["kind"]["enum"] = list(kinds)
    classifier["allOf"] = [
        {
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": {"properties": {"kind": True, **block.get("properties", {})}, "additionalProperties": False},
        }
        for kind, block in kinds.items()
    ]


def validate(config: dict, schema_path: Path = SCHEMA_PATH) -> dict:
    """Return a validated copy of ``config`` with defaults filled in, or raise ``ConfigError``."""
    from unmask.features.families import parse_spec  # imports OpenCV: only where a whole config is validated

    schema = copy.deepcopy(_schema(Path(schema_path)))
    schema["$defs"]["dataset"]["properties"]["variant"]["enum"] = list(VARIANTS)  # the package's one list
    _add_classifier_kinds(schema["$defs"])
    config = copy.deepcopy(config)
    _migrate_face_keys(config)
    if lines := [f"  {key}: {value} is not a finite number" for key, value in _non_finite(config)]:
        raise ConfigError("invalid configuration:\n" + "\n".join(lines))  # NaN passes every bound of the schema
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        lines = [f"  {_location(e)}: {_describe(e, config)}" for e in errors]
        raise ConfigError("invalid configuration:\n" + "\n".join(lines))
    known = sorted(config["datasets"])
    for key in ("default_datasets", "cross_dataset"):
        if unknown := [name for name in config[key] if name not in config["datasets"]]:
            raise ConfigError(
                f"invalid configuration:\n  {key}: unknown dataset {', '.join(map(repr, unknown))}; "
                f"the configured datasets are {', '.join(known)}"
            )
    if len(config["cross_dataset"]) == 1:
        raise ConfigError("invalid configuration:\n  cross_dataset: lists one dataset; it compares two or more")
    for name, dataset in config["datasets"].items():
        labels = {source["label"] for source in dataset["sources"].values()}
        if labels != {"real", "fake"}:
            raise ConfigError(
                f"invalid configuration:\n  datasets.{name}.sources: needs at least one real and one fake source"
            )
        cropped = dataset["faces"]["crop"] or any("videos" in source for source in dataset["sources"].values())
        if cropped and VARIANTS[dataset["variant"]].length is None and dataset["spectrum_length"] is None:
            raise ConfigError(
                f"invalid configuration:\n  datasets.{name}: face crops differ in size, so their "
                f"{dataset['variant']} spectra would differ in length; set `spectrum_length` (e.g. 300) to "
                "resample every spectrum to one length, or use a variant that does (celeba, dfd)"
            )
        for item in dataset["families"]["compare"]:
            try:
                parse_spec(item)
            except ValueError as error:
                raise ConfigError(f"invalid configuration:\n  datasets.{name}.families.compare: {error}") from None
        for source_name, source in dataset["sources"].items():
            if "videos" in source:
                source["videos"] = source["videos"].replace("{compression}", dataset["compression"])
            else:
                source.setdefault("path", f"data/raw/{name}/{source_name}")
    return config


def schema_default(*keys: str):
    """The schema's default of the property at ``keys``; ``"*"`` steps into any entry of a mapping.

    ``schema_default("datasets", "*", "video", "frames")`` is a dataset's default number of video frames.
    Raises ``KeyError`` naming a key that the schema does not have.
    """
    return copy.deepcopy(_schema_property(*keys)["default"])


def schema_option(*keys: str) -> dict:
    """``type`` and ``default`` of an argparse option that stands for the schema's number property at ``keys``:
    the value is parsed as that property's type and must pass its bounds, so the option and the key agree."""
    rules = {key: value for key, value in _schema_property(*keys).items() if key not in ("default", "description")}
    kinds = rules["type"] if isinstance(rules["type"], list) else [rules["type"]]
    convert, kind = (int, "an integer") if "integer" in kinds else (float, "a number")
    validator = jsonschema.Draft202012Validator(rules)

    def parse(text: str) -> int | float:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if error := jsonschema.exceptions.best_match(validator.iter_errors(value)):
            raise argparse.ArgumentTypeError(error.message)
        return value

    return {"type": parse, "default": schema_default(*keys)}


def _schema_property(*keys: str) -> dict:
    """The schema of the property at ``keys`` (see ``schema_default``)."""
    schema = _schema(SCHEMA_PATH)
    node = schema
    for key in keys:
        while "$ref" in node:  # only local references: "#/$defs/dataset"
            node = functools.reduce(lambda parent, part: parent[part], node["$ref"].lstrip("#/").split("/"), schema)
        node = node["additionalProperties"] if key == "*" else node["properties"][key]
    return node
