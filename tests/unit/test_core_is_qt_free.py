"""The core must never import Qt: the engine, CLI and tests rely on it."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import reflexia.core

ROOT = Path(__file__).resolve().parents[2]


def test_importing_every_core_module_loads_no_qt() -> None:
    modules = [m.name for m in pkgutil.walk_packages(reflexia.core.__path__, "reflexia.core.")]
    assert "reflexia.core.engine.llama_cpp.engine" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'qasync'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_import_contracts_hold() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    lint = subprocess.run([str(lint_imports), "--no-cache"], capture_output=True, text=True, cwd=ROOT)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert " 0 broken." in lint.stdout
