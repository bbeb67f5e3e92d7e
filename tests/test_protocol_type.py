"""The protocol type: built from the validated config, one JSON argument into every job, one entry per protocol."""

from __future__ import annotations

import logging

import pytest
import yaml

from unmask import cli, config
from unmask.learn.protocol import DRAWS, Protocol


def test_a_protocol_is_built_from_the_validated_config_and_its_json_reads_back():
    sources = {"a": {"label": "real"}, "b": {"label": "fake"}}
    settings = config.validate({"datasets": {"d": {"sources": sources}}, "default_datasets": ["d"]})
    protocol = Protocol.of(settings["datasets"]["d"])
    assert protocol == Protocol("sample_split", 10, 0.2, 0), "the schema's defaults"
    assert Protocol.from_json(protocol.to_json()) == protocol
    with pytest.raises(AttributeError):
        protocol.repeats = 2  # frozen


def test_the_schema_lists_exactly_the_protocols_that_have_a_draw():
    schema = yaml.safe_load(config.SCHEMA_PATH.read_text())
    assert schema["$defs"]["dataset"]["properties"]["protocol"]["enum"] == list(DRAWS)


@pytest.mark.parametrize(
    "text,message",
    [
        ("{not json", "the protocol is not JSON"),
        ('{"name": "sample_split", "repeats": 2, "seed": 0}', "a protocol needs exactly the keys name, repeats"),
        ('{"name": "by_month", "repeats": 2, "test_fraction": 0.2, "seed": 0}', "unknown protocol 'by_month'"),
    ],
)
def test_a_bad_protocol_argument_is_one_line_naming_the_problem(tmp_path, caplog, text, message):
    out = ["--out", str(tmp_path / "runs.parquet"), "--predictions", str(tmp_path / "predictions.parquet")]
    command = ["train", "shard.parquet", "--name", "svm", "--spec", '{"kind": "svm"}', "--samples", "20"]
    assert cli.main([*command, "--protocol", text, *out]) == 2
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage().startswith(f"unmask train: {message}") and "\n" not in record.getMessage()
