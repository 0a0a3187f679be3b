"""The engine calls llama.cpp's raw C API: another llama-cpp-python version is reported, not tolerated."""

from __future__ import annotations

import tomllib
from pathlib import Path

from reflexia.core.diagnostics.doctor import _llama
from reflexia.core.engine.llama_cpp.version import (
    EXPECTED_VERSION,
    build_problem,
    installed_version,
    version_problem,
)

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


def test_a_build_with_amx_kernels_is_named_with_its_fix() -> None:
    # What llama.cpp printed here before the install built it without AMX (Xeon, Sapphire Rapids).
    native = "CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | REPACK = 1 | "
    problem = build_problem(native)
    assert problem is not None and "crash on this processor" in problem and "make install" in problem
    assert build_problem("CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | REPACK = 1 | ") is None


def test_the_installed_build_has_no_amx_kernels() -> None:
    # The first matrix product of an AMX build crashed every test that generates on this machine.
    assert build_problem() is None
