"""The window's layout as a new user meets it: default size, docks open, nothing cut off or overlapping."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import shiboken6
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from reflexia.ui.theme import SCHEME_PROPERTY, Theme, apply_theme

TYPICAL_FOOTER = "46 tokens · 512.0 tok/s · first token 0.05 s · q4_k_m · Code Assistant · stopped"


@pytest.fixture(autouse=True)
def themed(qapp: QApplication) -> Iterator[None]:
    """The app's own style sheet, as a user sees it (its padding changes every width); removed after."""
    apply_theme(qapp, "light")
    yield
    theme = qapp.findChild(Theme)
    if theme is not None:
        theme.set_preference("system")
        shiboken6.delete(theme)
    qapp.setStyleSheet("")
    qapp.setProperty(SCHEME_PROPERTY, None)


def test_a_typical_stats_line_fits_on_one_line_at_the_default_size(qtbot: QtBot, make_app) -> None:
    window = make_app().window
    bubble = window.chat_view.add_message("assistant", "Here is a function that reverses a list.")
    bubble.finish()
    bubble.set_footer(TYPICAL_FOOTER)
    qtbot.wait(100)
    footer = bubble.footer
    metrics = footer.fontMetrics()
    assert metrics.horizontalAdvance(TYPICAL_FOOTER) <= footer.contentsRect().width(), (
        f"the footer is given {footer.width()} px of the bubble's {bubble.width()}"
    )
    assert footer.height() < 2 * metrics.lineSpacing()  # one line
    copy = bubble.copy_button
    assert copy is not None and copy.isVisible()
    assert copy.geometry().left() > footer.geometry().right()  # beside the line, at the right
    bubble.set_footer("")  # e.g. a reply waiting for its turn, then running
    qtbot.wait(50)
    assert copy.width() < bubble.width() // 4 and copy.geometry().right() > bubble.width() - 40
