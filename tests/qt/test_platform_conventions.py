"""Platform conventions: standard shortcuts do what users expect, and the layout is remembered."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from pytestqt.qtbot import QtBot


def test_standard_shortcuts_are_bound(make_app) -> None:
    actions = make_app().window.menu_actions
    assert actions.new_chat.shortcut() == QKeySequence(QKeySequence.StandardKey.New)
    assert actions.find.shortcut() == QKeySequence(QKeySequence.StandardKey.Find)
    assert actions.close_window.shortcut() == QKeySequence(QKeySequence.StandardKey.Close)
    preferences = QKeySequence(QKeySequence.StandardKey.Preferences).toString()
    assert actions.settings.shortcut().toString() in ("Ctrl+,", preferences)
    assert actions.stop.shortcut() == QKeySequence("Esc")


def test_ctrl_n_starts_a_new_chat_and_ctrl_f_searches(qtbot: QtBot, make_app, tiny_model: Path) -> None:
    app = make_app({"sampling": {"max_tokens": 4}})
    with qtbot.waitSignal(app.inference.model_loaded, timeout=20_000):
        app.load_model(tiny_model)
    with qtbot.waitSignal(app.chat.reply_finished, timeout=10_000):
        app.window.send("Hello")
    window = app.window
    window.composer.input.setFocus()
    qtbot.keyClick(window.composer.input, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert window.chat_view.bubbles == [] and app.chat.conversation.turns == []
    qtbot.keyClick(window.composer.input, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.sidebar.search_box.hasFocus()


def test_docks_shown_or_hidden_are_remembered(qtbot: QtBot, make_app) -> None:
    first = make_app()
    first.window.menu_actions.show_performance.trigger()
    first.window.menu_actions.show_sidebar.trigger()
    qtbot.wait(50)
    assert first.window.performance_dock.isVisible() and not first.window.sidebar_dock.isVisible()
    first.window.close()
    second = make_app()
    qtbot.wait(50)
    assert second.window.performance_dock.isVisible() and not second.window.sidebar_dock.isVisible()
