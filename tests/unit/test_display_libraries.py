"""Qt's X11 plugin needs xcb libraries: a missing one is named with the command that installs it."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys

import pytest

from reflexia.core.desktop import display_libraries


def test_a_missing_library_is_named_with_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    # As on a desktop with every xcb library but libxcb-cursor0 (Qt 6.5+ aborts there without saying
    # which library); whatever this machine has installed does not matter.
    monkeypatch.setattr(
        ctypes.util, "find_library", lambda name: None if name == "xcb-cursor" else f"lib{name}.so.0"
    )
    assert display_libraries.missing_xcb_libraries() == ["xcb-cursor"]
    command = display_libraries.install_command(["xcb-cursor"])
    assert command.startswith("sudo apt-get install libxcb-cursor0")
    assert "dnf install xcb-util-cursor" in command


def test_the_check_stays_quiet_where_qt_will_not_use_x11(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert not display_libraries.needs_xcb("linux")
    monkeypatch.delenv("QT_QPA_PLATFORM")
    assert display_libraries.needs_xcb("linux") and not display_libraries.needs_xcb("darwin")


def test_make_run_runs_the_check_as_a_module() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "reflexia.core.desktop.display_libraries"],
        capture_output=True,
        text=True,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert run.returncode == 0 and run.stderr == ""
