"""Starting Reflexia at login: an XDG autostart entry on Linux, a LaunchAgent on macOS.

Off by default. The entry starts the app hidden in the menubar (``--background``); it is
written atomically and removed when switched off. On macOS a LaunchAgent works without a
signed app (Ventura and later show "Background Items Added" once); ``SMAppService`` would
need pyobjc's ServiceManagement framework and a signed bundle.

The LaunchAgent of the .app names no path inside it: it asks LaunchServices to start the app
by its bundle id (``open -g -b … --args --background``), so moving the app or App Translocation
does not break it, and ``-g`` keeps it in the background. ``ProcessType`` Interactive spares it
launchd's "light" resource limits for agents that name none (launchd.plist(5)).
"""

from __future__ import annotations

import os
import plistlib
import shlex
import sys
from pathlib import Path

from reflexia.core.atomic_file import atomic_output

BUNDLE_ID = "app.reflexia.Reflexia"


def launch_command(platform: str = sys.platform, frozen: bool | None = None) -> list[str]:
    """How a login entry starts this Reflexia hidden in the menubar.

    The .app by its bundle id, in the background (macOS); the frozen bundle's binary; or this
    Python with ``-m reflexia`` (from source).
    """
    frozen = bool(getattr(sys, "frozen", False)) if frozen is None else frozen
    if frozen and platform == "darwin":
        return ["/usr/bin/open", "-g", "-b", BUNDLE_ID, "--args", "--background"]
    if frozen:
        return [sys.executable, "--background"]
    return [sys.executable, "-m", "reflexia", "--background"]


def autostart_path(platform: str = sys.platform, home: Path | None = None) -> Path | None:
    """Where the login entry lives on ``platform``; None where Reflexia cannot start at login."""
    home = home or Path.home()
    if platform == "darwin":
        return home / "Library" / "LaunchAgents" / f"{BUNDLE_ID}.plist"
    if platform.startswith("linux"):
        config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
        return config / "autostart" / "reflexia.desktop"
    return None


def starts_at_login(platform: str = sys.platform, home: Path | None = None) -> bool:
    """Whether the login entry exists."""
    path = autostart_path(platform, home)
    return path is not None and path.is_file()


def set_start_at_login(
    enabled: bool, command: list[str] | None = None, platform: str = sys.platform, home: Path | None = None
) -> Path | None:
    """Write or remove the login entry; returns its path (None where there is no such thing).

    ``command`` is the whole command line, ``--background`` included (default: :func:`launch_command`).

    Raises:
        OSError: the entry could not be written or removed.
    """
    path = autostart_path(platform, home)
    if path is None:
        return None
    if not enabled:
        path.unlink(missing_ok=True)
        return path
    arguments = command or launch_command(platform)
    with atomic_output(path) as partial:
        if platform == "darwin":
            plist = {
                "Label": BUNDLE_ID,
                "ProgramArguments": arguments,
                "RunAtLoad": True,
                "ProcessType": "Interactive",  # an app the user works with: no throttling
                "LimitLoadToSessionType": "Aqua",  # the logged-in desktop, not an ssh session
            }
            partial.write_bytes(plistlib.dumps(plist))
        else:
            partial.write_text(
                "[Desktop Entry]\nType=Application\nName=Reflexia\n"
                "Comment=Local language models, waiting in the menubar\n"
                f"Exec={shlex.join(arguments)}\nTerminal=false\nX-GNOME-Autostart-enabled=true\n",
                encoding="utf-8",
            )
    return path
