"""The ``unmask`` command: user commands first, stages hidden yet callable, every option explained, -v/-q."""

from __future__ import annotations

import argparse
import logging
import re
import subprocess
import sys

import pytest
import yaml
from conftest import unmask_with_its_reader_gone

from unmask import cli, config
from unmask.commands import spectrum as spectrum_command
from unmask.log import setup_logging

USER_COMMANDS = ["spectrum", "predict", "calibrate"]


def sub_parsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The sub-command parsers of ``parser`` by name (none if it has none)."""
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {name: sub for action in actions for name, sub in action.choices.items()}


def all_parsers(parser: argparse.ArgumentParser, name: str = "unmask"):
    """``(name, parser)`` for ``parser`` and every sub-command below it."""
    yield name, parser
    for sub_name, sub in sub_parsers(parser).items():
        yield from all_parsers(sub, f"{name} {sub_name}")


def stage_names() -> list[str]:
    return [name for name in sub_parsers(cli.build_parser()) if name not in USER_COMMANDS]


@pytest.fixture
def restore_logging():
    yield
    setup_logging(0)


def test_top_level_help_lists_the_user_commands_one_line_each(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as exit:
        cli.main(["--help"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    usage, _, rest = text.partition("\n\n")
    assert "{spectrum,predict,calibrate}" in usage and not set(re.findall(r"[\w-]+", usage)) & set(stage_names())
    listed = re.findall(r"^ {4}(\S+) +(\S.*)$\n(?! {6,})", rest, flags=re.MULTILINE)  # a help on one line
    assert [name for name, _ in listed] == USER_COMMANDS
    commands, _, epilog = rest.partition("Workflow stages (run by Snakemake):")
    assert not set(re.findall(r"^ {2,}([\w-]+)", commands, flags=re.MULTILINE)) & set(stage_names())
    assert re.findall(r"[\w-]+", epilog.split("See")[0]) == stage_names()


def test_stage_commands_stay_callable_with_their_description():
    parsers = sub_parsers(cli.build_parser())
    assert {"acquire", "manifest", "features", "train", "cross-dataset"} <= set(parsers)
    assert all(parsers[name].description for name in stage_names())
    command = [sys.executable, "-m", "unmask", "manifest", "--help"]
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    assert result.returncode == 0 and "--spec" in result.stdout and "workflow stage" in result.stdout


def test_every_option_of_every_command_has_help():
    missing = [
        f"{name} {'/'.join(action.option_strings) or action.dest}"
        for name, parser in all_parsers(cli.build_parser())
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction) and not action.help
    ]
    assert missing == []


DEFAULTS = [  # command, option, the keys of its dataset property in the schema, another valid default
    ("predict", "frames", ("video", "frames"), 7),
    ("predict", "margin", ("faces", "margin"), 0.5),
    ("spectrum", "variant", ("variant",), "celeba"),
]


@pytest.mark.parametrize("command,option,keys,other", DEFAULTS)
def test_defaults_come_from_the_schema(tmp_path, monkeypatch, command, option, keys, other):
    schema = yaml.safe_load(config.SCHEMA_PATH.read_text())
    node = schema["$defs"]["dataset"]
    for key in keys:
        node = node["properties"][key]
    assert sub_parsers(cli.build_parser())[command].get_default(option) == node["default"] != other
    node["default"] = other
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump(schema))
    monkeypatch.setattr(config, "SCHEMA_PATH", tmp_path / "schema.yaml")
    assert sub_parsers(cli.build_parser())[command].get_default(option) == other


def test_schema_default_follows_references():
    assert config.schema_default("datasets", "*", "video", "frames") == 20
    assert config.schema_default("default_datasets") == ["demo"]
    with pytest.raises(KeyError, match="no_such_key"):
        config.schema_default("datasets", "*", "no_such_key")


@pytest.mark.parametrize(
    "flags,info,debug",
    [([], True, False), (["-q"], False, False), (["-v"], True, True), (["--quiet", "--verbose"], True, False)],
)
def test_verbose_and_quiet_set_what_a_user_command_logs(restore_logging, monkeypatch, capsys, flags, info, debug):
    def run(args):
        log = logging.getLogger("unmask.features.spectrum")
        log.info("an info line")
        log.debug("a debug line")
        log.warning("a warning line")
        return 0

    monkeypatch.setattr(spectrum_command, "_spectrum", run)
    assert cli.main(["spectrum", *flags, "image.png"]) == 0
    err = capsys.readouterr().err
    assert ("an info line" in err, "a debug line" in err, "a warning line" in err) == (info, debug, True)


def test_quiet_counts(restore_logging):
    args = cli.build_parser().parse_args(["predict", "-qq", "-v", "x.jpg", "--model", "m.json"])
    assert cli.verbosity(args) == -1


def test_a_stage_logs_at_info_and_its_error_goes_through_logging(restore_logging, tmp_path, caplog):
    setup_logging(-1)
    out = ["--out", str(tmp_path / "m.parquet"), "--rejects", str(tmp_path / "r.parquet")]
    assert cli.main(["manifest", "--spec", "{not json", *out]) == 2
    assert logging.getLogger("unmask").level == logging.INFO
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.name == "unmask.cli" and record.getMessage().startswith("unmask manifest: ")
    assert not (tmp_path / "m.parquet").exists()


def test_spectrum_rows_are_csv_whatever_the_file_names(tmp_path, capsys):
    import csv

    import cv2
    import numpy as np

    pixels = np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)
    paths = [str(tmp_path / name) for name in ("a,b.png", 'say "hi".png', "new\nline.png", "plain.png")]
    for path in paths:
        cv2.imwrite(path, pixels)
    assert cli.main(["spectrum", *paths]) == 0
    out = capsys.readouterr().out
    header, *rows = csv.reader(out.splitlines(keepends=True))
    assert [row[0] for row in rows] == paths
    assert {len(row) for row in rows} == {len(header)}
    assert f"\n{paths[-1]},{rows[-1][1]}," in out, "a plain name is written as it is"


def test_spectrum_to_a_closed_pipe_ends_quietly(tmp_path):
    """As `unmask spectrum ... | head -1`: the reader is gone before the rows are written."""
    import cv2
    import numpy as np

    image = str(tmp_path / "image.png")
    cv2.imwrite(image, np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8))
    assert unmask_with_its_reader_gone("spectrum", image) == (1, "")


@pytest.mark.parametrize(
    "args,message",
    [
        (["spectrum", "--length", "0", "x.png"], "argument --length: 0 is less than the minimum of 4"),
        (["spectrum", "--length", "ten", "x.png"], "argument --length: 'ten' is not an integer"),
        (["predict", "--frames", "0"], "argument --frames: 0 is less than the minimum of 1"),
        (["predict", "--margin", "-1"], "argument --margin: -1.0 is less than the minimum of 0"),
        (["predict", "--margin", "nan"], "argument --margin: 'nan' is not a finite number"),
        (["predict", "--max-pixels", "-1"], "argument --max-pixels: -1 is less than the minimum of 1"),
        (["predict", "--min-face", "4"], "argument --min-face: 4 is less than the minimum of 8"),
        (["predict", "--margin", "1e308"], "argument --margin: 1e+308 is greater than the maximum of 100"),
    ],
)
def test_numeric_options_are_checked_as_the_schema_checks_their_keys(capsys, args, message):
    if args[0] == "predict":
        args = [*args, "--model", "m.json", "x.png"]
    with pytest.raises(SystemExit) as exit:
        cli.main(args)
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


def test_spectrum_refuses_a_huge_non_image_from_its_header_and_a_device(tmp_path, capsys):
    """An 8 GB file named .png (sparse: no disk used) and /dev/zero were read whole (MemoryError, or all memory)."""
    huge = tmp_path / "backup.png"
    with open(huge, "wb") as f:
        f.truncate(8 * 2**30)
    assert cli.main(["spectrum", str(huge), "/dev/zero"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"unmask spectrum: {huge}: not a readable image (no JPEG or PNG decoder accepts its header)",
        "unmask spectrum: /dev/zero: not a regular file (a device or socket)",
    ]


@pytest.mark.parametrize("command", ["spectrum", "predict"])
def test_a_file_s_message_stays_one_line_whatever_its_name(tmp_path, command):
    name = tmp_path / "two\nlines\t.png"
    name.write_bytes(b"not an image")
    from test_predict import save_toy_model

    model = ["--model", str(save_toy_model(tmp_path / "m.json"))] if command == "predict" else []
    result = subprocess.run(
        [sys.executable, "-m", "unmask", command, *model, str(name)], capture_output=True, text=True, check=False
    )
    assert result.stderr.splitlines() == [
        f"unmask {command}: {tmp_path}/two\\nlines\\t.png: not a readable image (no JPEG or PNG decoder accepts its header)"
    ]


def test_spectrum_names_a_folder_without_images_and_an_empty_path_as_such(tmp_path, capsys):
    assert cli.main(["spectrum", str(tmp_path), ""]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"unmask spectrum: {tmp_path}: no image files (.jpg, .jpeg, .png) in it",
        "unmask spectrum: '': an empty path",
    ]


@pytest.mark.parametrize("command", ["spectrum", "predict"])
def test_output_to_a_full_disk_or_a_closed_stdout_is_one_message(tmp_path, command):
    import cv2
    import numpy as np
    from test_predict import save_toy_model

    image = str(tmp_path / "image.png")
    cv2.imwrite(image, np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8))
    model = f"--model {save_toy_model(tmp_path / 'm.json')}" if command == "predict" else ""
    run = f"{sys.executable} -m unmask {command} {model} {image}"
    full = subprocess.run(["bash", "-c", f"{run} > /dev/full"], capture_output=True, text=True)
    assert full.returncode == 1
    assert full.stderr.endswith(f"unmask {command}: [Errno 28] No space left on device\n")
    assert len(full.stderr.splitlines()) == 1
    closed = subprocess.run(["bash", "-c", f"{run} >&-"], capture_output=True, text=True)
    assert closed.returncode == 2
    assert closed.stderr.endswith(f"unmask {command}: standard output is closed: nowhere to write the results\n")


def test_spectrum_refuses_a_lossless_jpeg_and_goes_on_and_reads_a_pipe(tmp_path):
    """Before: `unmask spectrum` on a lossless JPEG (SOF3) segfaulted (exit 139) in simplejpeg."""
    import subprocess
    import sys

    import cv2
    import numpy as np
    from test_image_validation import lossless_jpeg

    image = str(tmp_path / "image.png")
    cv2.imwrite(image, np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8))
    (tmp_path / "lossless.jpg").write_bytes(lossless_jpeg())
    command = f'{sys.executable} -m unmask spectrum "{tmp_path}/lossless.jpg" "{image}" <(cat "{image}")'
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
    assert result.returncode == 1
    assert result.stderr == f"unmask spectrum: {tmp_path}/lossless.jpg: lossless JPEG (SOF3) is not supported\n"
    header, first, piped = result.stdout.splitlines()
    assert first.split(",")[1:] == piped.split(",")[1:]
