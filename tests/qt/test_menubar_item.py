"""The status item as macOS shows it: its icon's size, and which clicks open the menu."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QSystemTrayIcon

from reflexia.ui.tray_agent import click_opens_menu, state_icon

Reason = QSystemTrayIcon.ActivationReason
Key = Qt.KeyboardModifier


def _ink_extent(image: QImage) -> int:
    """Width of the drawn part of ``image`` (pixels whose alpha is not 0)."""
    columns = [
        x for x in range(image.width()) if any(image.pixelColor(x, y).alpha() for y in range(image.height()))
    ]
    return max(columns) - min(columns) + 1


@pytest.mark.parametrize("state", ["idle", "loading", "generating", "pressure"])
def test_the_template_icon_is_18_points_with_a_retina_twin(qtbot, state: str) -> None:
    icon = state_icon(state, template=True)  # type: ignore[arg-type]
    assert icon.isMask()
    standard = icon.pixmap(QSize(18, 18), 1.0)
    retina = icon.pixmap(QSize(18, 18), 2.0)
    assert (standard.width(), standard.devicePixelRatio()) == (18, 1.0)
    assert (retina.width(), retina.devicePixelRatio()) == (36, 2.0)
    # The ring fills most of the 18 pt the menubar gives it (it was drawn about 11 pt wide).
    assert _ink_extent(retina.toImage()) / 2 >= 15


def test_other_trays_get_22_pixels(qtbot) -> None:
    icon = state_icon("idle", template=False)
    assert icon.pixmap(QSize(22, 22), 1.0).width() == 22 and not icon.isMask()


def test_control_click_and_right_click_open_the_menu_on_macos() -> None:
    assert click_opens_menu(Reason.Context, Key.NoModifier, "darwin")
    # Qt names the Control key Meta on macOS, and reports Control-click as a left click.
    assert click_opens_menu(Reason.Trigger, Key.MetaModifier, "darwin")
    assert not click_opens_menu(Reason.Trigger, Key.NoModifier, "darwin")  # a click: the quick prompt
    assert not click_opens_menu(Reason.Trigger, Key.ControlModifier, "darwin")  # Cmd-click
    assert not click_opens_menu(Reason.Context, Key.NoModifier, "linux")  # there the menu is Qt's own
