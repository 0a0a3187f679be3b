"""The main window's least width: room for the header beside the docks that are open.

Not the layout's own minimum, which would hold every label whole: a long unbroken text (an
error in the banner, a model's name in the status bar) would widen the window with it. Not a
fixed number either: with the Documents dock open, 720 px left the header 100 px, and its
pickers were laid over one another.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, Slot
from PySide6.QtWidgets import QDockWidget, QMainWindow, QStyle, QWidget

#: The least width with no dock open (and the least height, always).
LEAST_WIDTH = 720
LEAST_HEIGHT = 520
_SIDES = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea)


class WindowRoom(QObject):
    """Keeps ``window``'s minimum width at the header's minimum plus the open docks' (GUI thread)."""

    def __init__(self, window: QMainWindow, header: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._header = header
        window.setMinimumSize(LEAST_WIDTH, LEAST_HEIGHT)
        for dock in window.findChildren(QDockWidget):
            dock.visibilityChanged.connect(self.update)
            dock.dockLocationChanged.connect(self.update)
            dock.topLevelChanged.connect(self.update)
        window.installEventFilter(self)  # the style sheet's padding is known once the window is polished

    def least_width(self) -> int:
        """The header's minimum and, on each side, the widest dock open there with its separator."""
        window = self._window
        sides: dict[Qt.DockWidgetArea, int] = {}
        for dock in window.findChildren(QDockWidget):
            area = window.dockWidgetArea(dock)
            if dock.isHidden() or dock.isFloating() or area not in _SIDES:
                continue
            sides[area] = max(sides.get(area, 0), dock.minimumSizeHint().width())
        separator = window.style().pixelMetric(QStyle.PixelMetric.PM_DockWidgetSeparatorExtent, None, window)
        docks = sum(width + separator for width in sides.values())
        return max(LEAST_WIDTH, self._header.minimumSizeHint().width() + docks)

    @Slot()
    def update(self) -> None:
        """Set the minimum again (a dock was opened, closed, moved or floated)."""
        if shiboken6.isValid(self._window):  # docks hide as the window is destroyed: nothing to do then
            self._window.setMinimumWidth(self.least_width())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        """Follow the style: its padding changes the header's minimum."""
        if watched is self._window and event.type() in (QEvent.Type.Show, QEvent.Type.StyleChange):
            self.update()
        return False
