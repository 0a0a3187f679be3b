"""make run, make test and build_macos.sh find a Python 3.11-3.13, or say in one line what to install.

Each case runs the real script in a child process whose PATH holds only stand-in commands: a
``python3`` that is Apple's 3.9, a ``python3.12``, a ``uname`` that says Darwin, an ``xcode-select``
that finds no command-line tools.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "find_python.sh"
BASH = "/bin/bash"


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!{BASH}\n{body}\n", encoding="utf-8")
    path.chmod(0o755)


def _python(folder: Path, name: str, version: str) -> None:
    _stub(folder, name, f'echo "{version}"')


def _run(folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASH, str(SCRIPT)],
        env={"PATH": str(folder), **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def mac(tmp_path: Path) -> Path:
    _stub(tmp_path, "uname", "echo Darwin")
    _stub(tmp_path, "xcode-select", "echo /Library/Developer/CommandLineTools")
    return tmp_path


def test_apples_python_39_alone_is_refused_with_what_to_install(mac: Path) -> None:
    _python(mac, "python3", "3.9")
    result = _run(mac)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "Reflexia needs Python 3.11, 3.12 or 3.13 (found python3 is 3.9): install one: "
        "'brew install python@3.12', or the installer from python.org, then run make again."
    ]


def test_a_suitable_python_is_found_beside_apples(mac: Path) -> None:
    _python(mac, "python3", "3.9")
    _python(mac, "python3.12", "3.12")
    result = _run(mac)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(mac / "python3.12")


def test_a_python_too_new_for_the_wheels_is_passed_over(mac: Path) -> None:
    _python(mac, "python3", "3.14")
    _python(mac, "python3.11", "3.11")
    assert _run(mac).stdout.strip() == str(mac / "python3.11")


def test_the_one_named_by_make_is_tried_first(mac: Path) -> None:
    _python(mac, "python3.12", "3.12")
    _python(mac, "mine", "3.13")
    assert _run(mac, REFLEXIA_PYTHON="mine").stdout.strip() == str(mac / "mine")


def test_a_mac_without_the_command_line_tools_is_told_to_install_them(mac: Path) -> None:
    _python(mac, "python3.12", "3.12")
    refusal = "echo 'xcode-select: error: unable to get active developer directory' >&2; exit 2"
    _stub(mac, "xcode-select", refusal)
    result = _run(mac)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "Reflexia compiles llama.cpp and needs Apple's command-line tools: run 'xcode-select --install', "
        "then run make again."
    ]


def test_linux_names_its_package_manager(tmp_path: Path) -> None:
    _stub(tmp_path, "uname", "echo Linux")
    result = _run(tmp_path)
    assert result.returncode == 1
    assert "(found none)" in result.stderr and "apt-get install python3.11" in result.stderr


def test_this_machine_has_one() -> None:
    result = subprocess.run([BASH, str(SCRIPT)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert os.access(result.stdout.strip(), os.X_OK)
