"""unmask.log: one logging setup for the commands, tqdm bars on a terminal, periodic lines in job logs."""

from __future__ import annotations

import io
import logging
import re

import pytest
from tqdm import tqdm

from unmask import log as unmask_log
from unmask.log import LineProgress, progress, setup_logging


@pytest.fixture
def restore_logging():
    yield
    setup_logging(0)


@pytest.mark.parametrize("verbosity,level", [(-1, logging.WARNING), (0, logging.INFO), (2, logging.DEBUG)])
def test_setup_logging_levels_and_a_single_handler(restore_logging, capsys, verbosity, level):
    setup_logging(verbosity)
    setup_logging(verbosity)
    logger = logging.getLogger("unmask")
    assert logger.level == level and len(logger.handlers) == 1
    logging.getLogger("unmask.data.something").info("a line")
    assert ("a line" in capsys.readouterr().err) == (level <= logging.INFO)


def test_lines_every_interval_and_a_last_line(capsys, monkeypatch):
    clock = iter([0.0, 1.0, 2.0, 11.0, 11.0, 12.0, 12.0])  # start, then one reading per update and per line
    monkeypatch.setattr(unmask_log.time, "monotonic", lambda: next(clock))
    bar = progress(total=4, unit="image", desc="features", interval=10.0)
    assert isinstance(bar, LineProgress)
    bar.update()
    bar.update()  # 2 s: quiet
    bar.set_postfix_str("rejected 1")
    bar.update()  # 11 s: a line
    bar.update()
    bar.close()  # the last line
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" [")[0] for line in lines] == ["features: 3/4 (rejected 1)", "features: 4/4 (rejected 1)"]
    assert lines[0].endswith("[00:11,  3.67s/image]")


def test_iterating_counts_and_closes(capsys):
    assert list(progress(range(3), total=3, desc="shards", interval=3600)) == [0, 1, 2]
    assert capsys.readouterr().err.startswith("shards: 3/3 [")


def test_a_terminal_gets_a_tqdm_bar(monkeypatch):
    terminal = io.StringIO()
    terminal.isatty = lambda: True
    monkeypatch.setattr("sys.stderr", terminal)
    bar = progress(total=2, unit="file", desc="download")
    assert isinstance(bar, tqdm)
    bar.update(2)
    bar.close()
    assert "download: 100%" in terminal.getvalue() and "2/2" in terminal.getvalue()


def test_log_lines_on_a_terminal_go_above_the_bars(restore_logging, monkeypatch):
    terminal = io.StringIO()
    terminal.isatty = lambda: True
    monkeypatch.setattr("sys.stderr", terminal)
    setup_logging(0)
    bar = progress(total=2, unit="file", desc="download")
    logging.getLogger("unmask.test").warning("a warning")
    bar.close()
    assert re.search(r"[\r\n]\d\d:\d\d:\d\d WARNING unmask.test: a warning\n", terminal.getvalue())


def test_log_records_escape_control_characters_line_by_line(restore_logging, capsys):
    setup_logging(0)
    logging.getLogger("unmask.test").warning("cannot read cams/\x1b[2Jevil.png\n  second line")
    assert capsys.readouterr().err.endswith("cannot read cams/\\x1b[2Jevil.png\n  second line\n")
