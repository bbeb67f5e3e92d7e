"""Configuration: defaults filled in, and errors that name the key and say what is wrong."""

from __future__ import annotations

import pytest
import yaml
from conftest import REPO

from unmask.config import ConfigError, load_yaml, validate
from unmask.features.spectrum import VARIANTS


def dataset(**sources):
    return {"datasets": {"d": {"sources": sources}}, "default_datasets": ["d"]}


def test_defaults_are_filled_in():
    config = validate(
        {"datasets": {"demo": {"sources": {"a": {"label": "real"}, "b": {"label": "fake", "method": "scrape"}}}}}
    )
    d = config["datasets"]["demo"]
    assert d["variant"] == "faces_hq" and d["sizes"] == [4000, 1000, 100, 20] and d["repeats"] == 10
    assert d["classifiers"]["svm"] == {"kind": "svm", "kernel": "linear", "C": 1.0}
    assert d["sources"]["a"] == {"label": "real", "method": "local", "path": "data/raw/demo/a"}
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
        (
            {"a": {"label": "real", "method": "demo", "count": 3}, "b": {"label": "fake"}},
            "'style' is a required property",
        ),
        (
            {"a": {"label": "real", "method": "archive"}, "b": {"label": "fake"}},
            "needs exactly one of url, drive_id or file",
        ),
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


@pytest.mark.parametrize("name", ["x$(touch PWNED)y", "my set", "../evil", "", ".hidden", "a..b", "a/b", "-rf"])
@pytest.mark.parametrize("where", ["dataset", "source", "classifier"])
def test_a_name_outside_the_pattern_is_refused_naming_key_and_pattern(name, where):
    config = dataset(a={"label": "real"}, b={"label": "fake"})
    if where == "dataset":
        config["datasets"] = {name: config["datasets"]["d"]}
        key = "datasets"
    elif where == "source":
        config["datasets"]["d"]["sources"][name] = {"label": "fake"}
        key = "datasets.d.sources"
    else:
        config["datasets"]["d"]["classifiers"] = {name: {"kind": "kmeans"}}
        key = "datasets.d.classifiers"
    with pytest.raises(ConfigError) as error:
        validate(config)
    assert f"  {key}: the name {name!r} does not match ^(?!.*[.][.])[A-Za-z0-9][A-Za-z0-9_.-]*$" in str(error.value)


@pytest.mark.parametrize("name", ["faces_hq", "100k_faces", "v1.2", "A-b"])
def test_names_inside_the_pattern_are_kept(name):
    config = {
        "datasets": {name: {"sources": {name: {"label": "real"}, "b": {"label": "fake"}}}},
        "default_datasets": [name],
    }
    assert name in validate(config)["datasets"][name]["sources"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"default_datasets": ["nosuch"]}, "default_datasets: unknown dataset 'nosuch'; the configured datasets are d"),
        ({"cross_dataset": ["d", "other"]}, "cross_dataset: unknown dataset 'other'; the configured datasets are d"),
        ({"cross_dataset": ["d"]}, "cross_dataset: lists one dataset; it compares two or more"),
    ],
)
def test_unknown_dataset_names_are_named_with_the_known_ones(extra, message):
    with pytest.raises(ConfigError) as error:
        validate({**dataset(a={"label": "real"}, b={"label": "fake"}), **extra})
    assert message in str(error.value)


def test_a_duplicate_yaml_key_is_refused_naming_key_and_file(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("datasets:\n  d:\n    seed: 1\n    repeats: 2\n    seed: 3\n")
    with pytest.raises(ConfigError, match=rf"{path}, line 5: duplicate key 'seed'"):
        load_yaml(path)
    assert load_yaml(REPO / "config.yaml")["default_datasets"] == ["demo"]


def test_the_variants_are_the_package_s(monkeypatch):
    monkeypatch.setitem(VARIANTS, "mine", VARIANTS["celeba"])
    assert (
        validate(
            {
                **dataset(a={"label": "real"}, b={"label": "fake"}),
                "datasets": {"d": {"variant": "mine", "sources": {"a": {"label": "real"}, "b": {"label": "fake"}}}},
            }
        )["datasets"]["d"]["variant"]
        == "mine"
    )
    with pytest.raises(ConfigError, match="datasets.d.variant: 'faces' is not one of"):
        validate({"datasets": {"d": {"variant": "faces", "sources": {"a": {"label": "real"}, "b": {"label": "fake"}}}}})
