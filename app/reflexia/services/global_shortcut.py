"""The quick prompt's system-wide shortcut (macOS: Carbon's ``RegisterEventHotKey`` via quickmachotkey).

quickmachotkey's decorator sets ``register``/``unregister`` as attributes on the function it is
given, so it gets a plain function of ours, never a bound method (a bound method refuses new
attributes and the app would exit at launch). Whatever goes wrong while registering is logged,
reported in the Menubar settings and leaves the app running without the shortcut. The handler
runs on the main thread, inside Qt's loop, and only emits :attr:`GlobalShortcut.triggered`.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

#: Qt's names (Ctrl is Cmd on macOS, Meta is Control) to Carbon's modifier constants.
_CARBON_MODIFIERS = {"Ctrl": "cmdKey", "Meta": "controlKey", "Alt": "optionKey", "Shift": "shiftKey"}
_NAMED_KEYS = {"Space", "Return", "Tab", "Escape", "Delete"}


@dataclass(frozen=True)
class ShortcutStatus:
    """What became of one registration.

    Attributes:
        shortcut: The shortcut asked for ("" for none).
        registered: Whether it was registered for every app (macOS).
        reason: Why not, in the user's words ("" when registered, or where there are no global ones).
    """

    shortcut: str
    registered: bool
    reason: str = ""

    @property
    def note(self) -> str:
        """One line for the settings, next to the shortcut."""
        if self.registered:  # Carbon does not say when another app already holds the same keys
            return f"{self.shortcut} is registered for every app."
        return self.reason


def _load_hotkeys() -> tuple[ModuleType, ModuleType]:
    # Imported plainly (not through importlib) so PyInstaller sees and bundles it. Importing it
    # installs its Carbon event handler, so this runs on macOS only, on the main thread.
    import quickmachotkey
    import quickmachotkey.constants

    return quickmachotkey, quickmachotkey.constants


def _carbon_codes(shortcut: str, constants: ModuleType) -> tuple[Any, list[Any]]:
    *modifiers, key = shortcut.split("+")
    key_name = f"kVK_{key}" if key in _NAMED_KEYS else f"kVK_ANSI_{key.upper()}"
    virtual_key = getattr(constants, key_name, None)
    if virtual_key is None:
        raise ValueError(f"macOS has no key code for {key!r}")
    masks = [getattr(constants, _CARBON_MODIFIERS[m]) for m in modifiers if m in _CARBON_MODIFIERS]
    return virtual_key, masks


class GlobalShortcut(QObject):
    """The one system-wide shortcut of the quick prompt (GUI thread).

    Signals:
        triggered(): the shortcut was pressed, in any app.
        status_changed(ShortcutStatus): a registration ended, registered or not.
    """

    triggered = Signal()
    status_changed = Signal(object)

    def __init__(self, platform: str = sys.platform, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._platform = platform
        self._registered: list[Any] = []  # Carbon keeps calling these: they live as long as we do
        self.status = ShortcutStatus("", registered=False)

    def register(self, shortcut: str) -> ShortcutStatus:
        """Make ``shortcut`` ("Ctrl+Shift+Space") work from any app, replacing the previous one.

        Never raises: a failure is logged, kept in :attr:`status` and announced.
        """
        self.status = self._register(shortcut)
        if self.status.registered:
            log.info("global shortcut %s registered", shortcut)
        else:
            log.info("no global shortcut: %s", self.status.reason)
        self.status_changed.emit(self.status)
        return self.status

    def _register(self, shortcut: str) -> ShortcutStatus:
        if not shortcut:
            return ShortcutStatus("", registered=False, reason="No shortcut is set.")
        if self._platform != "darwin":  # the setting's own description says how to get a global one
            return ShortcutStatus(shortcut, registered=False)
        try:
            hotkeys, constants = _load_hotkeys()
            self.unregister()
            virtual_key, masks = _carbon_codes(shortcut, constants)

            def on_hotkey() -> None:  # a plain function: quickmachotkey sets attributes on it
                self.triggered.emit()

            decorate = hotkeys.quickHotKey(virtualKey=virtual_key, modifierMask=hotkeys.mask(*masks))
            handler = decorate(on_hotkey)
            self._registered.append(handler)
        except Exception as error:  # any failure leaves the app running without the shortcut
            log.warning("registering the global shortcut %s failed", shortcut, exc_info=True)
            return ShortcutStatus(
                shortcut,
                registered=False,
                reason=f"{shortcut} could not be registered for every app ({error}); "
                "it works while Reflexia is in front.",
            )
        return ShortcutStatus(shortcut, registered=True)

    def unregister(self) -> None:
        """Give the shortcut back to the system (a new one from the settings replaces it)."""
        while self._registered:
            handler = self._registered.pop()
            try:
                handler.unregister()
            except Exception:  # a handler that cannot be unregistered is dropped all the same
                log.warning("unregistering the global shortcut failed", exc_info=True)
