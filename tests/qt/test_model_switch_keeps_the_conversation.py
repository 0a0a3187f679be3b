"""What the user sees after a model switch: the real instruct model still knows the conversation."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

GREEDY = {"sampling": {"temperature": 0, "max_tokens": 40, "repeat_penalty": 1.0}}


def test_after_a_reload_the_model_still_knows_the_users_name(
    qtbot: QtBot, make_app, smollm2_model: Path
) -> None:
    app = make_app(GREEDY)
    with qtbot.waitSignal(app.inference.model_loaded, timeout=30_000):
        app.load_model(smollm2_model)
    with qtbot.waitSignal(app.chat.reply_finished, timeout=30_000):
        app.window.send("My name is Zorblax. Please remember it.")

    # A switch, as the governor or the model menu makes it: the same file loaded again.
    with qtbot.waitSignal(app.inference.model_loaded, timeout=30_000):
        app.load_model(smollm2_model)
    with qtbot.waitSignal(app.chat.reply_finished, timeout=30_000) as finished:
        app.window.send("What is my name?")

    assert "Zorblax" in finished.args[0].text
    assert "Zorblax" in app.window.chat_view.bubbles[-1].text
    assert app.window.model_label.text().startswith("SmolLM2-135M-Instruct")
