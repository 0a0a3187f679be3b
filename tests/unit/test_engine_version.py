"""The engine calls llama.cpp's raw C API: another llama-cpp-python version is reported, not tolerated."""

from __future__ import annotations

import tomllib
from pathlib import Path

from reflexia.core.diagnostics.doctor import _llama
from reflexia.core.engine.llama_cpp.version import EXPECTED_VERSION, installed_version, version_problem

ROOT = Path(__file__).resolve().parents[2]


def test_the_install_pins_the_version_the_engine_is_written_against() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = [d for d in project["dependencies"] if d.startswith("llama-cpp-python")]
    assert [pin.split(";")[0].strip() for pin in pins] == [f"llama-cpp-python=={EXPECTED_VERSION}"]
    assert installed_version() == EXPECTED_VERSION
    assert version_problem() is None
    assert _llama().status == "ok"


def test_another_version_is_an_error_with_the_command_that_fixes_it() -> None:
    problem = version_problem("0.3.16")
    assert problem is not None
    assert "0.3.16" in problem and EXPECTED_VERSION in problem
    check = _llama("0.3.16")
    assert check.status == "error"
    assert check.fix == f'pip install "llama-cpp-python=={EXPECTED_VERSION}"'
    assert "llama-cpp-python 0.3.16" in check.detail
