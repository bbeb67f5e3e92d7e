"""The configuration schema, the one place defaults live: read once per process, and what library code needs of it.

The workflow's ``config`` module validates whole configurations against it; library code that must fill in a
default itself (a classifier kind's parameters) reads it here, below every stage.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import yaml

# A symbolic link to workflow/schemas/config.schema.yaml in the repository (the one file), the file itself in a wheel
SCHEMA_PATH = Path(__file__).with_name("config.schema.yaml")


@functools.cache
def load(path: Path = SCHEMA_PATH) -> dict:
    """A config schema, parsed once per process (with libyaml where PyYAML has it: every CLI start)."""
    return yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def classifier_defaults(kind: str) -> dict:
    """The schema's defaults of a classifier kind's keys (its block of ``classifier_kinds``); KeyError if unknown."""
    block = load()["$defs"]["classifier_kinds"][kind]
    return {
        key: copy.deepcopy(rule["default"]) for key, rule in block.get("properties", {}).items() if "default" in rule
    }


def classifier_kinds() -> list[str]:
    """The classifier kinds the schema has a block for."""
    return list(load()["$defs"]["classifier_kinds"])
