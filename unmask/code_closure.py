"""The code a workflow stage runs, as one digest of its normalised source.

A rule's ``params`` hold ``code_digest`` of the modules its command runs, so
Snakemake reruns the rule when the *content* of any unmask module those reach
(directly or through imports) changes, and for nothing else: not on ``touch``,
not when the tree moves to another folder, not on a comment or reformatting
(the source is compared as its parsed syntax tree). Imports are read from the
source (module level and inside functions); modules loaded by name at run time
(``importlib``) must be named by the rule itself. Modules are named by their
path under ``unmask/`` without ``.py``: ``commands/features``,
``data/acquire/download``, ``data/acquire/__init__``.
"""

from __future__ import annotations

import ast
import hashlib
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def _module_file(name: str) -> Path | None:
    """``unmask/<name>.py`` or ``unmask/<name>/__init__.py`` for a dotted name under unmask, if it exists."""
    path = PACKAGE.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def _syntax(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


@cache
def _direct_imports(path: Path) -> frozenset[Path]:
    """The unmask module files that ``path`` imports, and the packages that hold them."""
    package = path.parent.relative_to(PACKAGE).parts
    found: set[Path] = set()
    for node in ast.walk(_syntax(path)):
        if isinstance(node, ast.Import):
            dotted = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (node.module or "").split(".")
            if node.level:  # relative: from . import x, from .download import y
                base = ["unmask", *package[: len(package) - node.level + 1], *filter(None, base)]
            # `from unmask import spectrum` names a module; `from unmask import LABELS` a name in unmask/__init__.
            dotted = [".".join(base)] + [".".join([*base, alias.name]) for alias in node.names]
        else:
            continue
        for name in dotted:
            parts = name.split(".")
            if parts[0] != "unmask":
                continue
            for depth in range(1, len(parts) + 1):  # importing unmask.a.b runs unmask/__init__ and unmask/a/__init__
                if (file := _module_file(".".join(parts[1:depth]))) is not None:
                    found.add(file)
    return frozenset(found)


def code_files(*modules: str) -> list[str]:
    """The files of ``modules`` and of every unmask module they import, directly or not, relative to the
    package's parent folder (``unmask/features/fourier.py``); sorted."""
    pending = []
    for module in modules:
        file = _module_file(module.replace("/", "."))
        if file is None:
            raise ValueError(f"no module unmask/{module}.py")
        pending.append(file)
    seen: set[Path] = set()
    while pending:
        file = pending.pop()
        if file not in seen:
            seen.add(file)
            pending.extend(_direct_imports(file) | {PACKAGE / "__init__.py"})
    return sorted(file.relative_to(PACKAGE.parent).as_posix() for file in seen)


def code_digest(*modules: str) -> str:
    """A digest of the syntax trees of ``modules`` and every unmask module they reach, with relative paths."""
    digest = hashlib.sha256()
    for name in code_files(*modules):
        tree = ast.dump(_syntax(PACKAGE.parent / name), annotate_fields=False)
        digest.update(f"{name}\0{hashlib.sha256(tree.encode()).hexdigest()}\n".encode())
    return f"sha256:{digest.hexdigest()}"
