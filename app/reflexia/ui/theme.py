"""Light and dark looks: the style sheet matching the system's colour scheme, kept in step live.

The scheme applied is also recorded on the application (``SCHEME_PROPERTY``),
where widgets that draw their own colours (the chat view's highlighted code)
read it when the style sheet changes.
"""

from __future__ import annotations

import logging
from typing import Literal

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, Slot
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from reflexia.core.config import paths
from reflexia.ui.markdown_html import ColorScheme

log = logging.getLogger(__name__)

Preference = Literal["system", "light", "dark"]
SCHEME_PROPERTY = "reflexiaColorScheme"
_SHEETS: dict[ColorScheme, str] = {"light": "style.qss", "dark": "style-dark.qss"}
_REQUESTS: dict[ColorScheme, Qt.ColorScheme] = {"light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}


def system_scheme() -> ColorScheme:
    """The colour scheme the platform asks for ("light" when it does not say)."""
    return "dark" if QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark else "light"


def applied_scheme() -> ColorScheme:
    """The scheme of the style sheet applied last ("light" before any)."""
    app = QCoreApplication.instance()
    return "dark" if app is not None and app.property(SCHEME_PROPERTY) == "dark" else "light"


def dark_palette() -> QPalette:
    """Dark colours for what the style sheet leaves to the palette (dialogs, menus, selections)."""
    palette = QPalette()
    role = QPalette.ColorRole
    for which, color in (
        (role.Window, "#16181d"),
        (role.WindowText, "#e6e8ee"),
        (role.Base, "#1f2229"),
        (role.AlternateBase, "#262a33"),
        (role.Text, "#e6e8ee"),
        (role.PlaceholderText, "#7d8493"),
        (role.Button, "#262a33"),
        (role.ButtonText, "#e6e8ee"),
        (role.BrightText, "#ffffff"),
        (role.Light, "#3a3f4a"),
        (role.Midlight, "#30343e"),
        (role.Mid, "#2e323b"),
        (role.Dark, "#121418"),
        (role.Shadow, "#000000"),
        (role.Highlight, "#3b5bfd"),
        (role.HighlightedText, "#ffffff"),
        (role.Link, "#8aa2ff"),
        (role.LinkVisited, "#b49cff"),
        (role.ToolTipBase, "#e6e8ee"),
        (role.ToolTipText, "#16181d"),
    ):
        palette.setColor(which, QColor(color))
    for which in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, which, QColor("#6b7280"))
    return palette


def style_sheet(scheme: ColorScheme) -> str:
    """The style sheet of ``scheme``, or none if the resource is missing."""
    try:
        return (paths.resources_dir() / _SHEETS[scheme]).read_text(encoding="utf-8")
    except OSError:
        log.warning("style sheet %s missing; using the platform style", _SHEETS[scheme])
        return ""


class Theme(QObject):
    """Applies the light or dark style sheet to the application; GUI thread only.

    With the "system" preference it follows the platform's colour scheme as it
    changes; "light" or "dark" force one (screenshots, tests, a user's choice)
    and ask the platform for it too, so native dialogs and menus match where
    the platform allows.

    Signals:
        scheme_changed(str): the scheme now applied, "light" or "dark".
    """

    scheme_changed = Signal(str)

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self._app = app
        self._preference: Preference = "system"
        self._scheme: ColorScheme | None = None
        app.styleHints().colorSchemeChanged.connect(self._on_system_scheme_changed)

    @property
    def preference(self) -> Preference:
        """What was asked: follow the system, or a forced scheme."""
        return self._preference

    @property
    def scheme(self) -> ColorScheme:
        """The scheme applied now."""
        return self._scheme or "light"

    def set_preference(self, preference: Preference) -> None:
        """Follow the system ("system") or force "light" or "dark"; applies at once."""
        self._preference = preference
        hints = self._app.styleHints()
        if preference == "system":
            hints.unsetColorScheme()
        else:
            hints.setColorScheme(_REQUESTS[preference])
        self._apply(system_scheme() if preference == "system" else preference)

    @Slot(Qt.ColorScheme)
    def _on_system_scheme_changed(self, scheme: Qt.ColorScheme) -> None:
        if self._preference == "system":
            self._apply("dark" if scheme == Qt.ColorScheme.Dark else "light")

    def _apply(self, scheme: ColorScheme) -> None:
        if scheme == self._scheme:
            return
        self._scheme = scheme
        self._app.setProperty(SCHEME_PROPERTY, scheme)  # before the sheet: widgets read it on StyleChange
        self._app.setPalette(self._palette(scheme))
        self._app.setStyleSheet(style_sheet(scheme))
        log.info("applied the %s theme", scheme)
        self.scheme_changed.emit(scheme)

    def _palette(self, scheme: ColorScheme) -> QPalette:
        # The platform's palette when it matches (it knows its own dialogs); ours when a forced
        # scheme is not the platform's and the platform did not follow the request.
        platform_dark = system_scheme() == "dark"
        if scheme == "dark" and not platform_dark:
            return dark_palette()
        if scheme == "light" and platform_dark:
            return self._app.style().standardPalette()
        return QPalette()  # resolves to the platform's


def apply_theme(app: QApplication, preference: Preference = "system") -> Theme:
    """Style ``app`` for the system's colour scheme and follow it, or force "light" or "dark".

    Calling it again changes the preference of the same ``Theme`` (a child of ``app``).
    """
    theme = app.findChild(Theme)
    if theme is None:
        theme = Theme(app)
    theme.set_preference(preference)
    return theme
