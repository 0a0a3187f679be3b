"""Stand-ins for macOS libraries, doing what their own sources do (read from their wheels).

``quickmachotkey`` 2025.7.28 (``src/quickmachotkey/__init__.py``): ``quickHotKey(virtualKey=…,
modifierMask=…)`` returns a decorator that stores the handler under a new id, sets ``register`` and
``unregister`` as attributes *on the handler* (so a bound method fails with AttributeError), registers
at once, and later calls ``handler()`` with no arguments when Carbon reports the key. ``mask`` ORs
modifier constants; ``constants`` holds Carbon's key codes and modifier masks.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

_INIT = '''
"""Stand-in for quickmachotkey: what its decorator does to the handler it is given."""
import os

hotKeyHandlers = {}
registered = {}  # id -> (virtual key, modifier mask) while registered
registrationCounter = 0
FAIL = os.environ.get("QMHK_STANDIN_FAIL", "")


def mask(*keys):
    x = 0
    for key in keys:
        x |= key
    return x


def quickHotKey(*, virtualKey, modifierMask, immediately=True):
    def makeRegisterable(handler):
        global registrationCounter
        registrationCounter += 1
        mine = registrationCounter
        hotKeyHandlers[mine] = handler
        fqpn = f"{handler.__module__}.{handler.__name__}"

        def unregister():
            registered.pop(mine, None)

        def register():
            if FAIL:
                raise OSError(FAIL)
            registered[mine] = (virtualKey, modifierMask)

        handler.unregister = unregister
        handler.register = register
        if immediately:
            register()
        return handler

    return makeRegisterable


def press(virtualKey, modifierMask):
    """What Carbon's event handler does when the key is pressed: call the handler."""
    for mine, keys in list(registered.items()):
        if keys == (virtualKey, modifierMask):
            hotKeyHandlers[mine]()
'''

_CONSTANTS = """
cmdKey = 0x100
shiftKey = 0x200
optionKey = 0x800
controlKey = 0x1000
kVK_Space = 0x31
kVK_Return = 0x24
kVK_ANSI_K = 0x28
kVK_ANSI_R = 0x0F
"""


def install_quickmachotkey(folder: Path) -> Path:
    """Write the stand-in package into ``folder`` (put it on ``sys.path``); forget any earlier import."""
    package = folder / "quickmachotkey"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(textwrap.dedent(_INIT), encoding="utf-8")
    (package / "constants.py").write_text(textwrap.dedent(_CONSTANTS), encoding="utf-8")
    for name in [n for n in sys.modules if n == "quickmachotkey" or n.startswith("quickmachotkey.")]:
        del sys.modules[name]
    return package
