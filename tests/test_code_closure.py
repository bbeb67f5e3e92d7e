"""Rules' code inputs: a stage's modules and every unmask module they import, directly or not."""
from __future__ import annotations

from pathlib import Path

import pytest

from unmask import code_closure


def _names(files: list[str]) -> set[str]:
    return {Path(file).relative_to(code_closure.PACKAGE).as_posix() for file in files}


def test_features_reach_the_fft_through_the_spectrum() -> None:
    assert _names(code_closure.code_files("features/extract")) == {
        "__init__.py", "io.py", "data/__init__.py", "data/images.py", "data/sampling.py",
        "features/__init__.py", "features/extract.py", "features/spectrum.py", "features/fourier.py", "features/perturb.py",
        "features/fftw_wisdom.py",
    }


def test_imports_inside_functions_and_subpackages_count() -> None:
    names = _names(code_closure.code_files("data/acquire/__init__", "data/acquire/ffhq_json"))
    assert {"data/acquire/__init__.py", "data/acquire/download.py", "data/acquire/google_drive.py", "data/file_list.py"} <= names


def test_names_from_the_package_init_are_not_modules(tmp_path, monkeypatch) -> None:
    package = tmp_path / "unmask"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("LABELS = {}\n")
    (package / "a.py").write_text("from unmask import LABELS, b\n")
    (package / "b.py").write_text("def f():\n    import unmask.sub.c\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "c.py").write_text("from . import d\nfrom .d import x\n")
    (package / "sub" / "d.py").write_text("import numpy\n")
    (package / "unused.py").write_text("")
    monkeypatch.setattr(code_closure, "PACKAGE", package)
    code_closure._direct_imports.cache_clear()
    try:
        assert _names(code_closure.code_files("a")) == {
            "__init__.py", "a.py", "b.py", "sub/__init__.py", "sub/c.py", "sub/d.py",
        }
    finally:
        code_closure._direct_imports.cache_clear()


def test_an_unknown_module_is_named() -> None:
    with pytest.raises(ValueError, match=r"no module unmask/featurs\.py"):
        code_closure.code_files("featurs")
