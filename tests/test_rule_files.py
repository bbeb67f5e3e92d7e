"""The rule files as text: every value that reaches a shell is quoted, and no path leaves the output folders."""

from __future__ import annotations

import re

import pytest
from conftest import REPO

RULE_FILES = sorted((REPO / "workflow" / "rules").glob("*.smk"))
FIELD = re.compile(r"(?<!\{)\{([^{}]+)\}(?!\})")


def shell_commands(text: str) -> list[str]:
    """The text of each `shell:` directive (its lines up to the next blank line)."""
    return [match.group(1) for match in re.finditer(r"\n    shell:\n(.*?)(?:\n\n|\Z)", text, re.S)]


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda path: path.name)
def test_every_shell_field_is_quoted(path):
    for command in shell_commands(path.read_text()):
        for field in FIELD.findall(command):
            assert field.endswith(":q"), f"{path.name}: {{{field}}} reaches the shell unquoted"


def test_the_rules_have_shell_commands():
    assert sum(len(shell_commands(path.read_text())) for path in RULE_FILES) >= 15


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda path: path.name)
def test_outputs_and_logs_stay_in_their_folders(path):
    text = path.read_text()
    for block in re.findall(r"\n    (?:output|log):\n(.*?)\n    \w+:", text, re.S):
        for pattern in re.findall(r'(?<!caption=)"([^"]*/[^"]*)"', block):
            assert pattern.split("/")[0] in {"results", "logs", "data"} and ".." not in pattern, pattern
