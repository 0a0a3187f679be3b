"""A conversation keeps its own role and documents switch; the role last used survives a relaunch."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from reflexia.app import ReflexiaApp

SHORT = {"sampling": {"max_tokens": 8, "temperature": 0.0}}


def _pick(app: ReflexiaApp, name: str) -> None:
    """Choose a role in the picker, as a user does."""
    picker = app.window.role_picker
    index = picker.findText(name)
    assert index >= 0
    picker.setCurrentIndex(index)
    picker.activated.emit(index)


def _ask(qtbot: QtBot, app: ReflexiaApp, text: str) -> str:
    with qtbot.waitSignal(app.chat.reply_finished, timeout=20_000):
        app.window.send(text)
    return app.chat.conversation_id


def test_the_role_last_used_is_the_role_at_the_next_launch(qtbot: QtBot, make_app) -> None:
    first = make_app()
    assert first.window.role_picker.currentText() == "Assistant"
    _pick(first, "Technical Writer")
    first.window.close()
    first.shutdown()

    again = make_app()
    assert again.window.role_picker.currentText() == "Technical Writer"
    assert again.roles.current.name == "Technical Writer" and again.chat.role_name == "Technical Writer"


def test_each_conversation_comes_back_with_its_own_role_and_documents_switch(
    qtbot: QtBot, make_app, tiny_model: Path
) -> None:
    app = make_app(SHORT)
    with qtbot.waitSignal(app.inference.model_loaded, timeout=20_000):
        app.load_model(tiny_model)
    window, panel = app.window, app.window.documents_panel
    assert panel is not None and app.history is not None
    _pick(app, "Technical Writer")
    writing = _ask(qtbot, app, "Describe a kettle")
    panel.use_documents.click()  # this chat answers from the documents from now on
    assert app.chat.documents_on

    window.new_chat()  # a new chat starts from its role's choice, not the last chat's switch
    assert not panel.use_documents.isChecked() and not app.chat.documents_on
    _pick(app, "Assistant")
    plain = _ask(qtbot, app, "Hello")

    with qtbot.waitSignal(app.history.loaded, timeout=20_000):  # read on the history's thread
        window.open_conversation(writing)
    assert window.role_picker.currentText() == "Technical Writer"
    assert panel.use_documents.isChecked() and app.chat.documents_on

    with qtbot.waitSignal(app.history.loaded, timeout=20_000):
        window.open_conversation(plain)
    assert window.role_picker.currentText() == "Assistant"
    assert not panel.use_documents.isChecked() and not app.chat.documents_on

    _pick(app, "Research Assistant")  # a role that answers from the documents: the switch follows it
    assert panel.use_documents.isChecked() and app.chat.documents_on
    stored = app.history.store.get_conversation(plain)
    assert (stored.expert_role, stored.use_documents) == ("Research Assistant", True)
    assert app.history.store.get_conversation(writing).use_documents is True
