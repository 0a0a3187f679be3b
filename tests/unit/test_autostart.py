"""Start at login: what the login entry says, read back as launchd and XDG autostart read it."""

from __future__ import annotations

import plistlib
import shlex
import sys
from pathlib import Path

from reflexia.core.desktop.autostart import (
    BUNDLE_ID,
    autostart_path,
    launch_command,
    set_start_at_login,
    starts_at_login,
)


def test_the_launch_agent_starts_the_app_by_its_id_in_the_background(tmp_path: Path) -> None:
    path = set_start_at_login(True, launch_command("darwin", frozen=True), platform="darwin", home=tmp_path)
    assert path == tmp_path / "Library" / "LaunchAgents" / f"{BUNDLE_ID}.plist"
    plist = plistlib.loads(path.read_bytes())
    # No path inside the .app (moving it, or App Translocation, broke the old entry), in the
    # background (-g), and an interactive process, not one launchd throttles.
    assert plist == {
        "Label": BUNDLE_ID,
        "ProgramArguments": ["/usr/bin/open", "-g", "-b", BUNDLE_ID, "--args", "--background"],
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }
    assert not any(".app/" in argument for argument in plist["ProgramArguments"])
    assert starts_at_login("darwin", tmp_path)
    set_start_at_login(False, platform="darwin", home=tmp_path)
    assert not starts_at_login("darwin", tmp_path)


def test_from_source_the_agent_runs_this_python_hidden(tmp_path: Path) -> None:
    path = set_start_at_login(True, platform="darwin", home=tmp_path)
    assert path is not None
    arguments = plistlib.loads(path.read_bytes())["ProgramArguments"]
    assert arguments == [sys.executable, "-m", "reflexia", "--background"]


def test_the_xdg_entry_starts_hidden(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    path = set_start_at_login(True, platform="linux", home=tmp_path)
    assert path == autostart_path("linux", tmp_path)
    assert path is not None
    exec_line = next(line for line in path.read_text().splitlines() if line.startswith("Exec="))
    assert shlex.split(exec_line.removeprefix("Exec="))[-1] == "--background"
    assert launch_command("linux", frozen=True) == [sys.executable, "--background"]
