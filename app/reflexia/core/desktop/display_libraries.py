"""Qt's X11 platform plugin needs libraries many Linux desktops lack; name them before Qt aborts.

Qt 6.5 and later load ``libxcb-cursor`` and other xcb helpers when the xcb plugin starts; a
missing one ends the app with "could not load the Qt platform plugin xcb" and no hint of which.
``make run`` and ``reflexia doctor`` run this check first and print the install command.

Run as ``python -m reflexia.core.desktop.display_libraries``: exit 1 with the command when
something is missing, 0 otherwise (and on macOS, Windows, Wayland-only or offscreen sessions).
"""

from __future__ import annotations

import ctypes.util
import os
import sys

#: The libraries Qt's xcb plugin loads, by their link name, with the Debian/Ubuntu and Fedora packages.
XCB_LIBRARIES: dict[str, tuple[str, str]] = {
    "xcb-cursor": ("libxcb-cursor0", "xcb-util-cursor"),
    "xkbcommon-x11": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "xcb-icccm": ("libxcb-icccm4", "xcb-util-wm"),
    "xcb-keysyms": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "xcb-shape": ("libxcb-shape0", "libxcb"),
    "xcb-render-util": ("libxcb-render-util0", "xcb-util-renderutil"),
    "xcb-image": ("libxcb-image0", "xcb-util-image"),
}


def needs_xcb(platform: str = sys.platform) -> bool:
    """Whether Qt will use its X11 plugin here (Linux, not forced to another platform)."""
    if not platform.startswith("linux"):
        return False
    forced = os.environ.get("QT_QPA_PLATFORM", "")
    return forced in ("", "xcb") or forced.startswith("xcb")


def missing_xcb_libraries() -> list[str]:
    """The link names of the xcb libraries that cannot be found."""
    return [name for name in XCB_LIBRARIES if ctypes.util.find_library(name) is None]


def install_command(missing: list[str]) -> str:
    """How to install ``missing`` on Debian/Ubuntu and on Fedora."""
    debian = " ".join(XCB_LIBRARIES[name][0] for name in missing)
    fedora = " ".join(sorted({XCB_LIBRARIES[name][1] for name in missing}))
    return f"sudo apt-get install {debian}   (Fedora: sudo dnf install {fedora})"


def main() -> int:
    """Print what is missing and how to install it; exit 1 if anything is."""
    if not needs_xcb():
        return 0
    missing = missing_xcb_libraries()
    if not missing:
        return 0
    print(
        "Reflexia's window needs libraries your desktop lacks (Qt's X11 plugin would abort): "
        f"{', '.join(missing)}.\nInstall them with:\n  {install_command(missing)}",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
