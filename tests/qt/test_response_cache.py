"""A repeated greedy question is answered from the response cache, and the reply says so."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from reflexia.app import ReflexiaApp


def _load(qtbot: QtBot, app: ReflexiaApp, model: Path) -> None:
    with qtbot.waitSignal(app.inference.model_loaded, timeout=20_000):
        app.load_model(model)


def _ask(qtbot: QtBot, app: ReflexiaApp, text: str) -> object:
    with qtbot.waitSignal(app.chat.reply_finished, timeout=20_000) as finished:
        app.window.send(text)
    return finished.args[0]


def test_the_same_greedy_question_in_a_new_chat_comes_from_the_cache(
    qtbot: QtBot, make_app, small_model: Path
) -> None:
    app = make_app({"sampling": {"temperature": 0, "max_tokens": 200}, "chat": {"response_cache_entries": 8}})
    _load(qtbot, app, small_model)
    first = _ask(qtbot, app, "What is a local model?")
    app.window.new_chat()
    again = _ask(qtbot, app, "What is a local model?")
    assert not first.from_cache and again.from_cache
    assert again.text == first.text
    bubble = app.window.chat_view.bubbles[-1]
    assert bubble.text == first.text and "answered from the response cache" in bubble.footer.text()
    # Another role is another answer.
    app.roles.choose("Technical Writer")
    app.window.new_chat()
    other = _ask(qtbot, app, "What is a local model?")
    assert not other.from_cache


def test_sampled_replies_and_a_zero_size_cache_are_never_reused(
    qtbot: QtBot, make_app, small_model: Path
) -> None:
    sampled = make_app({"sampling": {"temperature": 0.8, "max_tokens": 50, "seed": 3}})
    _load(qtbot, sampled, small_model)
    _ask(qtbot, sampled, "Hello")
    sampled.window.new_chat()
    assert not _ask(qtbot, sampled, "Hello").from_cache

    off = make_app({"sampling": {"temperature": 0, "max_tokens": 50}, "chat": {"response_cache_entries": 0}})
    _load(qtbot, off, small_model)
    _ask(qtbot, off, "Hello")
    off.window.new_chat()
    assert not _ask(qtbot, off, "Hello").from_cache
