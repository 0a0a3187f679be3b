"""A reply says what made it: the model and rung really loaded, the role, the conversation.

Each test is a defect that came from listeners reading what a service has now instead of what the
signal carried: a reply recorded with the model loaded a moment later, a partial reply lost when
the user started a new chat, an exchange destroyed by Regenerate with no model.
"""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from reflexia.core.engine.values import ModelRef

HANG_MS = 60_000


def test_a_reply_queued_behind_a_load_is_recorded_with_the_model_that_made_it(
    qtbot: QtBot, make_app, tiny_model: Path, tiny_f16_model: Path
) -> None:
    app = make_app({"sampling": {"max_tokens": 8}})
    with qtbot.waitSignal(app.inference.model_loaded, timeout=HANG_MS):
        app.load_model(tiny_model)  # q4_k_m
    app.load_model(tiny_f16_model)  # f16, still loading when the message is sent
    with qtbot.waitSignal(app.chat.reply_finished, timeout=HANG_MS) as finished:
        assert app.window._chat.send("which model answers this?")
    assert app.history is not None
    stored = app.history.store.get_conversation(app.chat.conversation_id).messages[-1]
    assert (stored.rung, stored.model_ref) == ("f16", str(ModelRef.file(tiny_f16_model)))
    assert "f16" in app.window.chat_view.bubbles[-1].footer.text()
    made_by = finished.args[0].made_by
    assert (made_by.rung, made_by.model) == ("f16", ModelRef.file(tiny_f16_model))


def test_new_chat_during_a_reply_keeps_the_partial_reply_with_its_conversation(
    qtbot: QtBot, make_app, small_model: Path
) -> None:
    app = make_app({"sampling": {"max_tokens": 3000, "temperature": 0.8}})
    with qtbot.waitSignal(app.inference.model_loaded, timeout=HANG_MS):
        app.load_model(small_model)
    with qtbot.waitSignal(app.chat.reply_token, timeout=HANG_MS):
        app.window.send("tell me a long story")
    old = app.chat.conversation_id
    history = app.history
    assert history is not None
    app.window.new_chat()

    def stored() -> list[tuple[str, str]]:
        return [(m.role, m.status) for m in history.store.get_conversation(old).messages]

    # The reply stops within a token; its text so far goes to its own conversation (it stayed pending).
    qtbot.waitUntil(lambda: stored() == [("user", "complete"), ("assistant", "stopped")], timeout=HANG_MS)
    reply = history.store.get_conversation(old).messages[-1]
    assert reply.content and reply.rung == "q4_k_m"
    assert app.window.chat_view.bubbles == []  # nothing of it landed in the new chat
    # Opening the old chat later shows both; the message is not taken back as "never answered".
    with qtbot.waitSignal(history.loaded, timeout=HANG_MS):  # read on the history's thread
        app.window.open_conversation(old)
    assert [b.role for b in app.window.chat_view.bubbles] == ["user", "assistant"]
    assert app.window.composer.input.toPlainText() == ""


def test_regenerate_with_no_model_keeps_the_exchange(qtbot: QtBot, make_app, tiny_model: Path) -> None:
    app = make_app({"sampling": {"max_tokens": 8}})
    with qtbot.waitSignal(app.inference.model_loaded, timeout=HANG_MS):
        app.load_model(tiny_model)
    with qtbot.waitSignal(app.chat.reply_finished, timeout=HANG_MS):
        app.window.send("keep this exchange")
    with qtbot.waitSignal(app.inference.model_unloaded, timeout=HANG_MS):
        app.inference.unload()
    app.window.regenerate()
    assert [b.role for b in app.window.chat_view.bubbles] == ["user", "assistant"]
    assert [t.role for t in app.chat.conversation.turns] == ["user", "assistant"]
    assert app.history is not None
    stored = app.history.store.get_conversation(app.chat.conversation_id).messages
    assert [m.role for m in stored] == ["user", "assistant"]
    assert "No model is loaded" in app.window.statusBar().currentMessage()
