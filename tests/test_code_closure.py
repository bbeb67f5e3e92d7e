"""Rules' code params: a digest of a stage's modules and every unmask module they import, by content."""

from __future__ import annotations

import shutil

import pytest

from unmask import code_closure


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A small package `unmask` in tmp_path, made the one code_closure reads."""

    def use(root):
        monkeypatch.setattr(code_closure, "PACKAGE", root / "unmask")
        code_closure._syntax.cache_clear()
        code_closure._direct_imports.cache_clear()
        return root / "unmask"

    root = tmp_path / "a"
    package = root / "unmask"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("LABELS = {}\n")
    (package / "a.py").write_text("from unmask import LABELS, b\n")
    (package / "b.py").write_text("def f():\n    import unmask.sub.c\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "c.py").write_text("from . import d\nfrom .d import x\n")
    (package / "sub" / "d.py").write_text("import numpy\n\n\ndef x():\n    return 1\n")
    (package / "unused.py").write_text("")
    use(root)
    yield package, use
    code_closure._syntax.cache_clear()
    code_closure._direct_imports.cache_clear()


def _names(files: list[str]) -> set[str]:
    return {file.removeprefix("unmask/") for file in files}


def test_features_reach_the_fft_through_the_spectrum() -> None:
    assert _names(code_closure.code_files("features/extract")) == {
        "__init__.py",
        "io.py",
        "data/__init__.py",
        "data/images.py",
        "data/isolated.py",
        "data/sampling.py",
        "features/__init__.py",
        "features/extract.py",
        "features/spectrum.py",
        "features/fourier.py",
        "features/perturb.py",
        "features/fftw_wisdom.py",
        "log.py",
    }


def test_imports_inside_functions_and_subpackages_count() -> None:
    names = _names(code_closure.code_files("data/acquire/__init__", "data/acquire/ffhq_json"))
    assert {
        "data/acquire/__init__.py",
        "data/acquire/download.py",
        "data/acquire/google_drive.py",
        "data/file_list.py",
    } <= names


def test_names_from_the_package_init_are_not_modules(package) -> None:
    assert code_closure.code_files("a") == [
        "unmask/__init__.py",
        "unmask/a.py",
        "unmask/b.py",
        "unmask/sub/__init__.py",
        "unmask/sub/c.py",
        "unmask/sub/d.py",
    ]


def test_an_unknown_module_is_named() -> None:
    with pytest.raises(ValueError, match=r"no module unmask/featurs\.py"):
        code_closure.code_files("featurs")


def test_comments_and_formatting_do_not_change_the_digest(package) -> None:
    root, use = package
    before = code_closure.code_digest("a")
    (root / "sub" / "d.py").write_text("# a comment\nimport numpy\n\ndef x():  # the one\n    return (1)\n")
    use(root.parent)
    assert code_closure.code_digest("a") == before


def test_a_changed_body_changes_the_digest_of_what_reaches_it_only(package) -> None:
    root, use = package
    before_a, before_unused = code_closure.code_digest("a"), code_closure.code_digest("unused")
    (root / "sub" / "d.py").write_text("import numpy\n\n\ndef x():\n    return 2\n")
    use(root.parent)
    assert code_closure.code_digest("a") != before_a
    assert code_closure.code_digest("unused") == before_unused


def test_the_digest_does_not_depend_on_the_folder(package, tmp_path) -> None:
    root, use = package
    before = code_closure.code_digest("a")
    shutil.copytree(root.parent, tmp_path / "elsewhere")
    use(tmp_path / "elsewhere")
    assert code_closure.code_digest("a") == before


def test_cropping_does_not_reach_the_manifest_code() -> None:
    """Editing the manifest stage must not rerun face cropping (the slow video stage)."""
    assert "unmask/data/manifest.py" not in code_closure.code_files("commands/crops")
    assert "unmask/data/manifest.py" in code_closure.code_files("commands/manifest")
