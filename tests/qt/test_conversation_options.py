"""A conversation keeps its own role and documents switch; the role last used survives a relaunch."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from reflexia.app import ReflexiaApp


def _pick(app: ReflexiaApp, name: str) -> None:
    """Choose a role in the picker, as a user does."""
    picker = app.window.role_picker
    index = picker.findText(name)
    assert index >= 0
    picker.setCurrentIndex(index)
    picker.activated.emit(index)


def test_the_role_last_used_is_the_role_at_the_next_launch(qtbot: QtBot, make_app) -> None:
    first = make_app()
    assert first.window.role_picker.currentText() == "Assistant"
    _pick(first, "Technical Writer")
    first.window.close()
    first.shutdown()

    again = make_app()
    assert again.window.role_picker.currentText() == "Technical Writer"
    assert again.roles.current.name == "Technical Writer" and again.chat.role_name == "Technical Writer"
