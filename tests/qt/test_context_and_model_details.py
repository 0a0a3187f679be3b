"""Two things peers show that the window lacked: how full the context is, and the model's details."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

HANG_MS = 60_000


def test_the_context_meter_fills_with_the_conversation_and_warns_before_turns_are_left_out(
    qtbot: QtBot, make_app, tiny_model: Path
) -> None:
    app = make_app({"sampling": {"max_tokens": 48}, "model": {"context_length": 512}})
    with qtbot.waitSignal(app.inference.model_loaded, timeout=HANG_MS):
        app.load_model(tiny_model)
    meter = app.window.context_meter
    assert not meter.isVisible()
    with qtbot.waitSignal(app.chat.reply_finished, timeout=HANG_MS) as first:
        app.window.send("hello there")
    stats = first.args[0].stats
    assert meter.isVisibleTo(app.window)
    assert meter.text() == f"Context {stats.prompt_tokens + stats.completion_tokens:,} / 512"
    for _ in range(12):  # a long conversation in a 512-token context
        with qtbot.waitSignal(app.chat.reply_finished, timeout=HANG_MS) as reply:
            app.window.send("and another message that takes a few tokens of the context")
        if reply.args[0].stats.left_out_messages:
            break
    tip = meter.toolTip()
    assert "oldest messages" in tip and ("left out" in tip)
    app.window.new_chat()
    assert not meter.isVisible()


def test_model_details_show_what_the_header_says(qtbot: QtBot, make_app, tiny_model: Path) -> None:
    app = make_app()
    assert app.window.show_model_details() is None  # nothing loaded: the status bar says so
    with qtbot.waitSignal(app.inference.model_loaded, timeout=HANG_MS):
        app.load_model(tiny_model)
    qtbot.waitUntil(lambda: app.library.snapshot is not None, timeout=10_000)
    dialog = app.window.show_model_details()
    assert dialog is not None
    qtbot.addWidget(dialog)
    values = {title: label.text() for title, label in dialog.values.items()}
    assert values["Architecture"] == "llama" and values["Quantization"] == "q4_k_m"
    assert values["Trained context"] == "2,048 tokens" and values["File"] == str(tiny_model)
    assert values["Kind"].startswith("chat model")
    assert all(label.textFormat() == Qt.TextFormat.PlainText for label in dialog.values.values())
    assert "im_start" in dialog.template.toPlainText()
    dialog.close()
