"""Configuration: defaults filled in, and errors that name the key and say what is wrong."""
from __future__ import annotations

import pytest
import yaml

from conftest import REPO
from unmask.config import ConfigError, validate


def dataset(**sources):
    return {"datasets": {"d": {"sources": sources}}}


def test_defaults_are_filled_in():
    config = validate(dataset(a={"label": "real"}, b={"label": "fake", "method": "scrape"}))
    d = config["datasets"]["d"]
    assert d["variant"] == "faces_hq" and d["sizes"] == [4000, 1000, 100, 20] and d["repeats"] == 10
    assert d["classifiers"]["svm"] == {"kind": "svm", "kernel": "linear", "C": 1.0}
    assert d["sources"]["a"] == {"label": "real", "method": "local", "path": "data/raw/d/a"}
    assert config["default_datasets"] == ["demo"]


def test_shipped_configs_are_valid():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    validate(config)
    overlay = yaml.safe_load((REPO / "config/faces_hq_download.yaml").read_text())
    for name, source in overlay["datasets"]["faces_hq"]["sources"].items():
        config["datasets"]["faces_hq"]["sources"][name].update(source)
    assert validate(config)["datasets"]["faces_hq"]["sources"]["ffhq"]["method"] == "ffhq_json"


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ({"a": {"label": "real"}, "b": {"label": "real"}}, "needs at least one real and one fake source"),
        ({"a": {"label": "genuine"}, "b": {"label": "fake"}}, "datasets.d.sources.a.label: 'genuine' is not one of"),
        ({"a": {"label": "real", "delay": 2}, "b": {"label": "fake"}}, "unknown key 'delay' for method local"),
        ({"a": {"label": "real", "method": "demo", "count": 3}, "b": {"label": "fake"}}, "'style' is a required property"),
        ({"a": {"label": "real", "method": "archive"}, "b": {"label": "fake"}}, "needs exactly one of url, drive_id or file"),
        (
            {"a": {"label": "real", "method": "scrape", "download": {"worker": 2}}, "b": {"label": "fake"}},
            "datasets.d.sources.a.download: unknown key 'worker'",
        ),
    ],
)
def test_errors_name_the_key(sources, message):
    with pytest.raises(ConfigError, match="invalid configuration") as error:
        validate(dataset(**sources))
    assert message in str(error.value)
