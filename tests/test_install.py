"""What `pip install -e .` (no extras) brings: every README command must work in such a venv."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import snakemake
from packaging.requirements import Requirement


def runtime_closure(name: str) -> set[str]:
    """The distributions ``name`` needs at run time, directly or not, without any extra."""
    pending, seen = [name], set()
    while pending:
        current = pending.pop()
        key = re.sub(r"[-_.]+", "-", current).lower()
        if key in seen:
            continue
        seen.add(key)
        for text in importlib.metadata.requires(current) or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return seen


def test_the_report_needs_only_runtime_requirements():
    """`snakemake --report` stops with 'Python package X must be installed to create reports' for each X
    it lacks: every such X must come with unmask itself (not only with the test extra's pytest)."""
    report_code = Path(snakemake.__file__).parent / "report"
    needed = {
        match.lower()
        for path in report_code.rglob("*.py")
        for match in re.findall(r"Python package (\S+) must be installed to create reports", path.read_text())
    }
    assert "pygments" in needed, "the report's optional packages are found"
    assert needed <= runtime_closure("unmask"), (
        f"missing from unmask's dependencies: {needed - runtime_closure('unmask')}"
    )
