"""The quick prompt and the menubar agent as a user meets them: the real app, the real engine."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from reflexia.app import ReflexiaApp
from reflexia.core.desktop.autostart import autostart_path
from reflexia.core.engine.values import GenerationResult
from reflexia.ui.tray_agent import TrayAgent

HANG_MS = 60_000
GREEDY = {"sampling": {"temperature": 0, "max_tokens": 40, "repeat_penalty": 1.0}}


def _load(qtbot: QtBot, app: ReflexiaApp, model: Path) -> None:
    with qtbot.waitSignal(app.inference.model_loaded, timeout=HANG_MS):
        app.load_model(model)


def test_a_quick_question_streams_its_answer_copies_and_continues_in_the_window(
    qtbot: QtBot, make_app, smollm2_model: Path
) -> None:
    app = make_app(GREEDY)
    _load(qtbot, app, smollm2_model)
    quick = app.quick_prompt
    quick.open_near(QRect())
    qtbot.waitExposed(quick)
    qtbot.waitUntil(quick.input.hasFocus, timeout=5_000)  # type at once, no click needed
    streamed: list[str] = []
    app.quick_session.reply_token.connect(streamed.append)
    qtbot.keyClicks(quick.input, "The meeting is in room Zorblax. Which room is the meeting in?")
    with qtbot.waitSignal(app.quick_session.reply_finished, timeout=HANG_MS) as finished:
        qtbot.keyClick(quick.input, Qt.Key.Key_Return)
    answer = finished.args[0].text
    assert "Zorblax" in answer and len(streamed) > 1  # it came token by token
    assert quick.answer is not None and quick.answer.text == answer
    assert app.window.chat_view.bubbles == []  # the window's own conversation is untouched

    quick.copy_button.click()
    assert QGuiApplication.clipboard().text() == answer

    quick.continue_button.click()  # the exchange becomes a conversation of the window and the history
    assert not quick.isVisible()
    assert [b.text for b in app.window.chat_view.bubbles] == [
        "The meeting is in room Zorblax. Which room is the meeting in?",
        answer,
    ]
    assert app.history is not None
    stored = app.history.store.get_conversation(app.chat.conversation_id)
    assert [m.content for m in stored.messages] == [
        "The meeting is in room Zorblax. Which room is the meeting in?",
        answer,
    ]
    # The window continues it: the model still knows what was said in the quick prompt.
    with qtbot.waitSignal(app.chat.reply_finished, timeout=HANG_MS) as followed:
        app.window.send("Which room did I say?")
    assert "Zorblax" in followed.args[0].text
    assert followed.args[0].stats.cached_prompt_tokens > 0  # its cache came along
    assert app.quick_session.conversation.turns == []  # the next quick question starts afresh


def test_a_quick_question_waits_for_the_windows_reply_and_never_stops_it(
    qtbot: QtBot, make_app, small_model: Path
) -> None:
    app = make_app({"sampling": {"max_tokens": 120, "temperature": 0.8, "seed": 3}})
    _load(qtbot, app, small_model)
    window_results: list[GenerationResult] = []
    quick_results: list[GenerationResult] = []
    app.chat.reply_finished.connect(window_results.append)
    app.quick_session.reply_finished.connect(quick_results.append)
    with qtbot.waitSignal(app.chat.reply_token, timeout=HANG_MS):
        app.window.send("Tell me a long story")
    quick = app.quick_prompt
    quick.open_near(QRect())
    quick.input.setText("And a short one?")
    with qtbot.waitSignal(app.quick_session.reply_waiting, timeout=10_000):
        quick.ask()
    assert quick.status.isVisible() and "Waiting for the other reply" in quick.status.text()
    qtbot.waitUntil(lambda: bool(window_results and quick_results), timeout=HANG_MS)
    assert window_results[0].stats.stop_reason != "cancelled"  # the window's reply ran to its end
    assert quick_results[0].text and not quick.status.isVisible()


def test_esc_closes_the_quick_prompt(qtbot: QtBot, make_app) -> None:
    app = make_app()
    app.quick_prompt.open_near(QRect())
    qtbot.waitExposed(app.quick_prompt)
    qtbot.keyClick(app.quick_prompt.input, Qt.Key.Key_Escape)
    assert not app.quick_prompt.isVisible()


def test_the_menubar_menu_shows_the_engine_and_changes_role_auto_quantization_and_login(
    qtbot: QtBot, make_app, tiny_model: Path
) -> None:
    app = make_app()
    agent = TrayAgent(app.inference, app.governor, app.roles, app.store)
    assert [a.text() for a in agent.menu.actions() if a.text()][:3] == [
        "Quick prompt…",
        "Show Reflexia",
        "No model loaded · memory OK",
    ]
    with qtbot.waitSignal(app.inference.model_loaded, timeout=HANG_MS):
        app.load_model(tiny_model)
    assert agent.status_action.text().endswith("· q4_k_m · memory OK")
    assert agent.state == "idle"
    states: list[str] = []
    app.chat.reply_running.connect(lambda: states.append(agent.state))
    with qtbot.waitSignal(app.chat.reply_finished, timeout=HANG_MS):
        app.window.send("Hello")
    assert states == ["generating"]  # the icon shows the engine at work
    qtbot.waitUntil(lambda: agent.state == "idle", timeout=5_000)

    [research] = [a for a in agent.roles_menu.actions() if a.text() == "Research Assistant"]
    research.trigger()
    assert app.roles.current.name == "Research Assistant" and app.window.role_picker.currentText().startswith(
        "Research Assistant"
    )

    assert agent.auto_action.isChecked()
    agent.auto_action.trigger()
    assert app.store.settings.memory.governor_enabled is False  # saved, as the settings dialog would

    entry = autostart_path()
    assert entry is not None and not entry.exists()
    agent.login_action.trigger()
    assert app.store.settings.agent.start_at_login
    assert entry.is_file() and "--background" in entry.read_text()
    agent.login_action.trigger()
    assert not entry.exists()

    opened: list[bool] = []
    agent.quick_prompt_requested.connect(lambda: opened.append(True))
    agent.quick_action.trigger()
    assert opened == [True]
    assert os.environ.get("QT_QPA_PLATFORM") == "offscreen" and not agent.show_icon()  # no tray here
    QApplication.processEvents()


def test_a_quick_question_with_a_documents_role_is_answered_from_the_documents(
    qtbot: QtBot, make_app, smollm2_model: Path, tmp_path: Path
) -> None:
    from tests.grounding_docs import FACT_FILE, QUESTION, write_grounding_docs

    app = make_app(GREEDY)
    docs = write_grounding_docs(tmp_path / "docs")
    with qtbot.waitSignal(app.documents.run_finished, timeout=180_000):
        app.documents.add([docs])
    _load(qtbot, app, smollm2_model)
    # A role that answers from the documents, greedy (the shipped Research Assistant samples at 0.3).
    app.roles.save(
        {
            "name": "Plant manual",
            "system_prompt": "You answer questions.",
            "temperature": 0.0,
            "use_documents": True,
        }
    )
    app.roles.choose("Plant manual")
    quick = app.quick_prompt
    quick.open_near(QRect())
    quick.input.setText(QUESTION)
    with qtbot.waitSignal(app.quick_session.reply_finished, timeout=HANG_MS) as finished:
        quick.ask()
    assert "42" in finished.args[0].text
    assert quick.answer is not None and quick.answer.sources is not None
    assert FACT_FILE in quick.answer.sources.links[0].text()
