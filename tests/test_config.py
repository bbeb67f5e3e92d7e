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
    assert d["classifiers"]["svm"] == {"kind": "svm", "kernel": "linear", "C": 1.0, "gamma": "scale"}
    assert d["classifiers"]["kmeans"] == {"kind": "kmeans", "n_init": 10}, "each kind takes its own block's defaults"
    real_only = {"kind": "mahalanobis", "components": 10, "contamination": 0.05}
    assert d["generalisation"]["leave_one_out_classifiers"] == {"mahalanobis": real_only}
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


def test_yaml_anchors_and_merge_keys_load_and_only_a_key_written_twice_is_refused(tmp_path):
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "common: &real {label: real, path: /a, count: 5}\n"
        "datasets:\n  d:\n    sources:\n      a: *real\n      b: {<<: *real, label: fake, path: /b}\n"
    )
    assert load_yaml(path)["datasets"]["d"]["sources"]["b"] == {"label": "fake", "path": "/b", "count": 5}
    path.write_text("common: &real {label: real}\ndatasets:\n  b: {<<: *real, label: fake, label: real}\n")
    with pytest.raises(ConfigError, match=rf"{path}, line 3: duplicate key 'label'"):
        load_yaml(path)


def test_a_file_that_is_not_yaml_is_refused_naming_file_and_line(tmp_path):
    path = tmp_path / "tabs.yaml"
    path.write_text("datasets:\n\td: {}\n")
    with pytest.raises(ConfigError, match=rf"{path}, line 2: not valid YAML \(found character '\\t'"):
        load_yaml(path)


@pytest.mark.parametrize(
    ("key", "value"), [("sizes", [20.0]), ("shards", 2.0), ("repeats", 3.0), ("seed", 1.0), ("max_pixels", 1e6)]
)
def test_a_whole_number_written_as_a_float_is_refused(key, value):
    """JSON Schema calls 2.0 an integer; range(2.0) and the file name n20.0.parquet do not."""
    config = dataset(a={"label": "real"}, b={"label": "fake"})
    config["datasets"]["d"][key] = value
    with pytest.raises(ConfigError) as error:
        validate(config)
    location = f"datasets.d.{key}[0]" if key == "sizes" else f"datasets.d.{key}"
    assert f"  {location}: {value[0] if key == 'sizes' else value} is not of type 'integer'" in str(error.value)


def test_a_count_written_as_a_float_is_refused():
    with pytest.raises(ConfigError, match="datasets.d.sources.a.count: 5.0 is not of type 'integer'"):
        validate(dataset(a={"label": "real", "count": 5.0}, b={"label": "fake"}))


@pytest.mark.parametrize("key", ["path", "videos"])
def test_an_empty_folder_path_is_refused(key):
    """An empty path is the working directory: its results/ would be read as the source's images."""
    with pytest.raises(ConfigError, match=f"datasets.d.sources.a.{key}: '' should be non-empty"):
        validate(dataset(a={"label": "real", key: ""}, b={"label": "fake"}))


@pytest.mark.parametrize("name", [1, True, None])
@pytest.mark.parametrize("where", ["dataset", "source"])
def test_a_name_that_yaml_reads_as_no_text_is_refused_with_a_hint(name, where):
    config = dataset(a={"label": "real"}, b={"label": "fake"})
    if where == "dataset":
        config["datasets"] = {name: config["datasets"]["d"]}
        key = "datasets"
    else:
        config["datasets"]["d"]["sources"][name] = {"label": "fake"}
        key = "datasets.d.sources"
    with pytest.raises(ConfigError) as error:
        validate(config)
    assert f"  {key}: the name {name!r} is not text (YAML reads unquoted numbers, yes, no" in str(error.value)


def test_a_seed_beyond_what_scikit_learn_takes_is_refused():
    """Before, 2**32 passed the schema and the model job failed: 'Seed must be between 0 and 2**32 - 1'."""
    config = dataset(a={"label": "real"}, b={"label": "fake"})
    config["datasets"]["d"]["seed"] = 2**32 - 1
    validate(config)
    config["datasets"]["d"]["seed"] = 2**32
    with pytest.raises(ConfigError, match="datasets.d.seed: 4294967296 is greater than the maximum of 4294967295"):
        validate(config)


def test_a_size_given_twice_is_refused():
    """The table pooled the repeats of both copies: the same mean, a smaller standard deviation."""
    config = dataset(a={"label": "real"}, b={"label": "fake"})
    config["datasets"]["d"]["sizes"] = [100, 20, 100]
    with pytest.raises(ConfigError, match=r"datasets.d.sizes: \[100, 20, 100\] has non-unique elements"):
        validate(config)


@pytest.mark.parametrize(
    ("keys", "value", "message"),
    [
        (("faces", "margin"), 1e308, "datasets.d.faces.margin: 1e+308 is greater than the maximum of 100"),
        (("video", "frames"), 10**9, "datasets.d.video.frames: 1000000000 is greater than the maximum of 10000"),
    ],
)
def test_numbers_that_hang_or_overflow_a_stage_are_refused(keys, value, message):
    """A margin of 1e308 raised OverflowError in the crop; 10**9 frames built 10**9 samples of a short video."""
    config = dataset(a={"label": "real"}, b={"label": "fake"})
    config["datasets"]["d"][keys[0]] = {keys[1]: value}
    with pytest.raises(ConfigError) as error:
        validate(config)
    assert f"  {message}" in str(error.value)


@pytest.mark.parametrize(
    ("faces", "fake"),
    [({"crop": True}, {"label": "fake", "path": "gen"}), ({}, {"label": "fake", "videos": "clips"})],
)
def test_face_crops_with_native_length_spectra_need_a_spectrum_length(faces, fake):
    """Crops differ in size, so faces_hq spectra differ in length: before, train failed after every crop."""
    config = dataset(a={"label": "real"}, b=fake)
    config["datasets"]["d"]["faces"] = faces
    with pytest.raises(ConfigError, match=r"datasets.d: face crops differ in size.*set `spectrum_length`"):
        validate(config)
    for fixed in ({"spectrum_length": 300}, {"variant": "dfd"}):
        validate({**config, "datasets": {"d": {**config["datasets"]["d"], **fixed}}})


@pytest.mark.parametrize(
    ("keys", "value", "message"),
    [
        (("shards",), 1_000_000, "datasets.d.shards: 1000000 is greater than the maximum of 10000"),
        (
            ("robustness", "repeats"),
            10**9,
            "datasets.d.robustness.repeats: 1000000000 is greater than the maximum of 1000",
        ),
        (("repeats",), 10**9, "datasets.d.repeats: 1000000000 is greater than the maximum of 1000"),
        (("spectrum_length",), 10**8, "datasets.d.spectrum_length: 100000000 is greater than the maximum of 65536"),
        (("sizes",), [10**20], "datasets.d.sizes[0]: 100000000000000000000 is greater than the maximum of 100000000"),
        (("sizes",), list(range(4, 10_004)), "datasets.d.sizes: [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17"),
        (
            ("classifiers", "km"),
            {"kind": "kmeans", "n_init": 10**8},
            "n_init: 100000000 is greater than the maximum of 1000",
        ),
        (("classifiers", "lr"), {"kind": "logreg", "max_iter": 10**21}, "max_iter: 1000000000000000000000 is greater"),
    ],
)
def test_every_count_has_a_maximum_named_with_its_key(keys, value, message):
    """Before: shards 1e6 took the dry run to 7.2 GB, 1e9 repeats ran until killed, max_iter 1e21 overflowed."""
    config = dataset(a={"label": "real"}, b={"label": "fake"})
    node = config["datasets"]["d"]
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    with pytest.raises(ConfigError) as error:
        validate(config)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("keys", "text"),
    [
        (("faces", "margin"), ".nan"),
        (("test_fraction",), ".nan"),
        (("classifiers", "svm", "C"), ".inf"),
        (("classifiers", "svm", "gamma"), ".nan"),
        (("robustness", "megapixels"), ".nan"),
        (("video", "vote_threshold"), "-.inf"),
    ],
)
def test_yaml_nan_and_inf_are_refused_naming_the_key(tmp_path, keys, text):
    """Before: .nan passed every bound (``unmask crops: cannot convert float NaN to integer`` late in the run)."""
    config = dataset(a={"label": "real"}, b={"label": "fake"})
    node = config["datasets"]["d"]
    for key in keys[:-1]:
        node = node.setdefault(key, {"kind": "svm", "kernel": "rbf"} if key == "svm" else {})
    node[keys[-1]] = "VALUE"
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config).replace("VALUE", text))
    with pytest.raises(ConfigError) as error:
        validate(load_yaml(path))
    assert f"  datasets.d.{'.'.join(keys)}: {float(text.replace('.', ''))} is not a finite number" in str(error.value)
