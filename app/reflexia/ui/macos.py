"""The Dock icon following the window, and activating the app: macOS only.

Neither can run on Linux, so both are small, guarded by ``sys.platform`` and quiet no-ops
elsewhere (reviewed against ``../shared/MACOS.md``, sections 2 and 3).

- The bundle ships ``LSUIElement`` (an agent: no Dock icon at launch); while the main window
  is open the app switches to the Regular policy (Dock icon, menu bar, Cmd-Tab), and back to
  Accessory when it closes, then re-activates, as Apple's policy switch needs.
- The quick prompt's global shortcut is ``reflexia.services.global_shortcut``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)

_REGULAR, _ACCESSORY = 0, 1  # NSApplicationActivationPolicy


def _send(selector: bytes, argument: int | None = None) -> None:
    """Send ``selector`` (with one integer argument, if given) to ``NSApp``."""
    objc = ctypes.cdll.LoadLibrary(ctypes.util.find_library("objc") or "libobjc.dylib")
    objc.objc_getClass.restype = ctypes.c_void_p
    objc.sel_registerName.restype = ctypes.c_void_p
    pointer = ctypes.c_void_p
    address = ctypes.cast(objc.objc_msgSend, pointer).value
    if address is None:
        raise OSError("objc_msgSend not found")
    ask = ctypes.CFUNCTYPE(pointer, pointer, pointer)(address)  # id objc_msgSend(id, SEL)
    tell = ctypes.CFUNCTYPE(pointer, pointer, pointer, ctypes.c_long)(address)  # (id, SEL, long)
    app = ask(objc.objc_getClass(b"NSApplication"), objc.sel_registerName(b"sharedApplication"))
    if argument is None:
        ask(app, objc.sel_registerName(selector))
    else:
        tell(app, objc.sel_registerName(selector), argument)


def activate_app() -> None:
    """Make the app active without a Dock icon, so a popover gets the keyboard.

    An accessory app is not activated by a click on its menubar item.
    """
    if sys.platform != "darwin":
        return
    try:
        _send(b"activateIgnoringOtherApps:", 1)
    except (OSError, AttributeError) as error:
        log.warning("could not activate the app: %s", error)


def set_dock_icon_visible(visible: bool) -> None:
    """Show the Dock icon while a window is open (Regular), hide it when none is (Accessory)."""
    if sys.platform != "darwin":
        return
    try:
        _send(b"setActivationPolicy:", _REGULAR if visible else _ACCESSORY)
        if visible:  # after a switch to Regular the app must be activated again
            _send(b"activateIgnoringOtherApps:", 1)
    except (OSError, AttributeError) as error:
        log.warning("could not switch the Dock icon: %s", error)
