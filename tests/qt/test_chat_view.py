"""The chat view as a user meets it: highlighted code, Copy, following a reply, long conversations, themes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import shiboken6
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QWheelEvent
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from reflexia.ui import markdown_html
from reflexia.ui.chat_view import REPAINT_INTERVAL_MS, ChatView, CodeBlockView, FrozenLabel, MessageBubble
from reflexia.ui.markdown_html import code_to_html
from reflexia.ui.theme import SCHEME_PROPERTY, Theme, apply_theme
from tests.qt.conftest import Heartbeat

FREEZE_S = 0.5  # what a user takes for a frozen window
OPEN_GUARD_S = 10.0  # opening 400 messages: only a hang reaches this (about 1 s here, 2 s on busy cores)

PY_CODE = (
    'import csv\n\n\ndef total(path: str) -> float:\n    """Sum the first column."""\n'
    "    return 0.0  # <todo> & more"
)
REPLY = (
    "Here is the function, with `csv`:\n\n"
    f"```python\n{PY_CODE}\n```\n\n"
    "| Approach | Memory |\n|---|---|\n| csv | a row |\n\n"
    "- one\n- two\n\n"
    "```\nimport json\nprint(json.dumps({}))\n```\n"
)
NESTED = "1. Install it:\n\n   ```bash\n   pip install total-tool\n   ```\n\n2. Run it.\n"
WORDS = [f"word{i} " if i % 40 else f"word{i}\n\n" for i in range(600)]


@pytest.fixture
def clipboard() -> Iterator[object]:
    board = QGuiApplication.clipboard()
    board.clear()
    yield board
    board.clear()


@pytest.fixture
def app_theme(qapp: QApplication) -> Iterator[QApplication]:
    """Leave the application as it was: no style sheet, the platform's palette, no Theme."""
    yield qapp
    theme = qapp.findChild(Theme)
    if theme is not None:
        theme.set_preference("system")
        shiboken6.delete(theme)
    qapp.setStyleSheet("")
    qapp.setProperty(SCHEME_PROPERTY, None)


def _view(qtbot: QtBot, width: int = 700, height: int = 420) -> ChatView:
    view = ChatView()
    qtbot.addWidget(view)
    view.resize(width, height)
    view.show()
    qtbot.waitExposed(view)
    return view


def _stream(qtbot: QtBot, view: ChatView, tokens: list[str], interval_ms: int = 1) -> None:
    """Feed tokens from a timer, as the engine's signal would, until all are in and painted."""
    pending = list(tokens)
    timer = QTimer()
    timer.timeout.connect(lambda: view.append_token(pending.pop(0)) if pending else None)
    timer.start(interval_ms)
    try:
        qtbot.waitUntil(lambda: not pending, timeout=20_000)
    finally:
        timer.stop()
    qtbot.wait(REPAINT_INTERVAL_MS * 3)


def _wheel(view: ChatView, notches: int) -> None:
    """Turn the mouse wheel over the messages (positive: towards the top)."""
    viewport = view.viewport()
    where = QPointF(viewport.width() / 2, viewport.height() / 2)
    event = QWheelEvent(
        where,
        QPointF(viewport.mapToGlobal(where.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, event)


def _code_labels(block: CodeBlockView) -> list[QLabel]:
    return [label for label in block.findChildren(QLabel, "codeBody") if not label.isHidden()]


def test_code_blocks_are_highlighted_and_copy_puts_exactly_the_code_on_the_clipboard(
    qtbot: QtBot, clipboard: object
) -> None:
    view = _view(qtbot)
    bubble = view.add_message("assistant", REPLY)
    python, guessed = bubble.code_blocks()
    assert python.language == "python" and python.finished
    [label] = _code_labels(python)
    assert label.text().count('<span style="color: #') >= 5  # keywords, strings, comment… in colour
    qtbot.mouseClick(python.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == PY_CODE  # no fence, no markup, no final newline
    assert python.copy_button.text() == "Copied"
    qtbot.waitUntil(lambda: python.copy_button.text() == "Copy", timeout=5_000)
    # A fence without a language: guessed, highlighted, copied all the same.
    assert guessed.language == "python" and '<span style="color: #' in _code_labels(guessed)[0].text()
    qtbot.mouseClick(guessed.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == "import json\nprint(json.dumps({}))"


def test_code_inside_a_list_has_a_copy_link_reachable_by_keyboard(qtbot: QtBot, clipboard: object) -> None:
    view = _view(qtbot)
    bubble = view.add_message("assistant", NESTED)
    assert bubble.code_blocks() == []  # inside the list item, not a block of its own
    [label] = [w for w in bubble.findChildren(FrozenLabel) if w.codes]
    assert "<span style=" in label.text() and "Copy" in label.text()
    view.activateWindow()
    label.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.waitUntil(label.hasFocus)
    qtbot.keyClick(label, Qt.Key.Key_Tab)  # to the link
    qtbot.keyClick(label, Qt.Key.Key_Return)
    assert QGuiApplication.clipboard().text() == "pip install total-tool"


def test_copy_on_a_reply_copies_its_markdown_source(qtbot: QtBot, clipboard: object) -> None:
    view = _view(qtbot)
    asked = view.add_message("user", "Show me the function")
    assert asked.copy_button is None
    bubble = view.begin_reply()
    assert bubble.copy_button is not None
    _stream(qtbot, view, [REPLY[i : i + 7] for i in range(0, len(REPLY), 7)])
    assert not bubble.copy_button.isVisible()  # not while it streams
    view.end_reply(REPLY, "60 tokens · 40.0 tok/s")
    assert bubble.copy_button.isVisible() and bubble.footer.text() == "60 tokens · 40.0 tok/s"
    qtbot.mouseClick(bubble.copy_button, Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == REPLY
    # By keyboard: the button takes Tab focus, Space presses it.
    QGuiApplication.clipboard().clear()
    assert bubble.copy_button.focusPolicy() & Qt.FocusPolicy.TabFocus
    bubble.copy_button.setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(bubble.copy_button, Qt.Key.Key_Space)
    assert QGuiApplication.clipboard().text() == REPLY


def test_a_code_block_streams_plain_and_is_highlighted_once_when_finished(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    highlighted: list[str] = []
    real = markdown_html.highlight

    def counting(code: str, lexer: object, formatter: object) -> str:
        highlighted.append(code)
        return real(code, lexer, formatter)  # type: ignore[arg-type]

    monkeypatch.setattr(markdown_html, "highlight", counting)
    code = "".join(f"value_{i} = compute({i}) * 2  # step {i}\n" for i in range(120))  # ~4 kB: cut in pieces
    text = f"Here it comes:\n\n```python\n{code}```\n\nDone.\n"
    view = _view(qtbot)
    bubble = view.begin_reply()
    closing = text.index("```\n\nDone")
    with Heartbeat() as beat:
        _stream(qtbot, view, [text[i : min(i + 4, closing)] for i in range(0, closing, 4)])
    [block] = bubble.code_blocks()
    assert block.language == "python" and not block.finished
    assert code.startswith(block.code) and len(block.code) > 3000
    assert all("<span" not in label.text() for label in _code_labels(block))
    assert highlighted == []  # no highlighting while the block streams
    _stream(qtbot, view, [text[closing:]])
    view.end_reply(text, "")
    assert bubble.code_blocks() == [block]  # the same block, completed, not replaced by a new one
    assert block.finished and block.code == code.removesuffix("\n")
    assert highlighted == [block.code]  # once, the whole block
    [label] = _code_labels(block)
    assert label.text() == code_to_html(block.code, "python", "light")
    assert beat.max_gap_s < FREEZE_S, beat.describe()


def test_the_view_follows_a_reply_until_the_user_scrolls_up_and_jump_resumes(qtbot: QtBot) -> None:
    view = _view(qtbot)
    for i in range(4):
        view.add_message("user", f"Question {i}")
        view.add_message("assistant", " ".join(WORDS[:120]))
    view.begin_reply()
    bar = view.verticalScrollBar()
    _stream(qtbot, view, WORDS[:80])
    assert view.following and bar.value() == bar.maximum() > 0
    assert not view.jump_button.isVisible()

    _wheel(view, 3)  # the user scrolls up to read
    reading = bar.value()
    assert reading < bar.maximum() and not view.following
    maximum = bar.maximum()
    _stream(qtbot, view, WORDS[80:300])
    assert bar.maximum() > maximum and bar.value() == reading  # never yanked back down
    assert view.jump_button.isVisible()
    button, viewport = view.jump_button.geometry(), view.viewport().geometry()
    assert viewport.contains(button)  # floating over the messages, bottom right
    assert button.left() > viewport.center().x() and button.top() > viewport.center().y()

    qtbot.mouseClick(view.jump_button, Qt.MouseButton.LeftButton)
    assert view.following and bar.value() == bar.maximum()
    assert not view.jump_button.isVisible()
    _stream(qtbot, view, WORDS[300:400])
    assert bar.value() == bar.maximum()  # following again

    _wheel(view, 2)
    assert view.jump_button.isVisible()
    _stream(qtbot, view, WORDS[400:450])
    _wheel(view, -50)  # scrolling back down to the end resumes following, too
    assert view.following and not view.jump_button.isVisible()
    _stream(qtbot, view, WORDS[450:520])
    assert bar.value() == bar.maximum()
    view.end_reply(None)


def _conversation(count: int) -> list[tuple[str, str, str]]:
    messages = []
    for i in range(count // 2):
        messages.append(("user", f"Question {i}: how do I sum a column of a CSV file?", ""))
        messages.append(("assistant", f"Answer {i}. {REPLY}\n{' '.join(WORDS[:60])}", f"{i} tokens"))
    return messages


def test_a_conversation_of_400_messages_opens_and_scrolls_without_freezing(qtbot: QtBot) -> None:
    messages = _conversation(400)
    view = _view(qtbot, 900, 700)
    bar = view.verticalScrollBar()
    with Heartbeat() as opening:
        started = time.perf_counter()
        view.load_messages(messages)
        returned_s = time.perf_counter() - started
        qtbot.waitUntil(lambda: view.bubbles[-1].visibleRegion().boundingRect().height() > 50, timeout=5_000)
        shown_s = time.perf_counter() - started  # the newest, laid out in view
        qtbot.waitUntil(lambda: not view.loading, timeout=20_000)
        qtbot.waitUntil(lambda: bar.maximum() > 0 and bar.value() == bar.maximum(), timeout=5_000)
        loaded_s = time.perf_counter() - started
    print(
        f"\n400 messages: load_messages returned in {returned_s * 1000:.0f} ms, newest in view after "
        f"{shown_s * 1000:.0f} ms, all shown after {loaded_s * 1000:.0f} ms; GUI {opening.describe()}"
    )
    assert [(b.role, b.text) for b in view.bubbles] == [(role, text) for role, text, _ in messages]
    assert view.bubbles[-1].footer.text() == "199 tokens" and view.following
    assert loaded_s < OPEN_GUARD_S
    assert opening.max_gap_s < FREEZE_S, opening.describe()

    with Heartbeat() as scrolling:
        started = time.perf_counter()
        while bar.value() > 0:
            bar.setValue(bar.value() - view.viewport().height())
            qtbot.wait(1)
        scrolled_s = time.perf_counter() - started
    print(f"scrolled from the newest to the oldest in {scrolled_s * 1000:.0f} ms; GUI {scrolling.describe()}")
    assert scrolling.max_gap_s < FREEZE_S, scrolling.describe()
    assert view.bubbles[0].visibleRegion().boundingRect().height() > 0


def test_older_messages_arriving_above_do_not_move_what_the_user_reads(qtbot: QtBot) -> None:
    view = _view(qtbot, 900, 700)
    bar = view.verticalScrollBar()
    view.load_messages(_conversation(400))
    qtbot.waitUntil(lambda: len(view.bubbles) > 10, timeout=5_000)
    assert view.loading
    _wheel(view, 5)

    def top(bubble: MessageBubble) -> int:
        return bubble.mapTo(view.widget(), QPoint(0, 0)).y()

    reading = next(b for b in reversed(view.bubbles) if top(b) <= bar.value())  # at the top of the view
    offset = top(reading) - bar.value()
    qtbot.waitUntil(lambda: not view.loading, timeout=20_000)
    qtbot.wait(50)
    assert top(reading) - bar.value() == offset
    assert not view.following and view.jump_button.isVisible()


def test_the_dark_theme_applies_its_sheet_and_recolours_code(qtbot: QtBot, app_theme: QApplication) -> None:
    theme = apply_theme(app_theme, "light")
    light_sheet = app_theme.styleSheet()
    view = _view(qtbot)
    bubble = view.add_message("assistant", REPLY + "\n" + NESTED)
    block = bubble.code_blocks()[0]
    [nested] = [w for w in bubble.findChildren(FrozenLabel) if w.codes]
    light_code, light_nested = _code_labels(block)[0].text(), nested.text()
    assert view.color_scheme == "light"

    with qtbot.waitSignal(theme.scheme_changed, timeout=1_000) as changed:
        apply_theme(app_theme, "dark")
    assert changed.args == ["dark"] and theme.scheme == "dark"
    assert app_theme.styleSheet() not in ("", light_sheet) and "#16181d" in app_theme.styleSheet()
    assert view.color_scheme == "dark"  # the view saw the new sheet by itself
    assert _code_labels(block)[0].text() == code_to_html(PY_CODE, "python", "dark") != light_code
    assert nested.text() != light_nested and nested.codes == ("pip install total-tool",)
    assert block.code == PY_CODE
    later = view.add_message("assistant", REPLY)  # new messages come in the scheme applied
    assert _code_labels(later.code_blocks()[0])[0].text() == code_to_html(PY_CODE, "python", "dark")

    # Following the system: the platform says light here; a live change to dark is followed.
    apply_theme(app_theme, "system")
    assert theme.scheme == "light" and view.color_scheme == "light" and app_theme.styleSheet() == light_sheet
    app_theme.styleHints().colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert theme.scheme == "dark" and view.color_scheme == "dark"
    assert _code_labels(block)[0].text() == code_to_html(PY_CODE, "python", "dark")


def test_what_the_window_relies_on_still_works(qtbot: QtBot) -> None:
    view = _view(qtbot)
    assert view.open_button.text() == "Open GGUF…" and view.demo_button.isVisible()
    with qtbot.waitSignal(view.demo_model_requested):
        qtbot.mouseClick(view.demo_button, Qt.MouseButton.LeftButton)
    view.set_empty_hint("Choose a model")
    assert view.empty_hint.text() == "Choose a model"
    user = view.add_message("user", "a < b & c")
    assert user.role == "user" and user.text == "a < b & c" and user.rendered_text() == "a < b & c"
    reply = view.begin_reply()
    _stream(qtbot, view, ["Hello ", "**there**", "\n\nSecond ", "para"])
    assert reply.text == "Hello **there**\n\nSecond para"
    assert "Hello there" in reply.rendered_text() and "Second" in reply.rendered_text()
    reply.set_footer("Waiting for the other reply…")
    assert reply.footer.isVisible()
    view.end_reply("Hello **there**\n\nSecond paragraph.", "4 tokens")
    assert reply.text.endswith("paragraph.") and reply.footer.text() == "4 tokens"
    assert reply.rendered_text() == "Hello there\nSecond paragraph."
    assert [b.role for b in view.bubbles] == ["user", "assistant"]
    view.remove_last("assistant")
    view.remove_last("user")
    assert view.bubbles == [] and view.open_button.isVisible()
    view.load_messages([("user", "q", ""), ("assistant", "a", "1 token")])
    assert [b.text for b in view.bubbles] == ["q", "a"] and not view.loading
    view.remove_last("assistant")  # a loaded message can be taken back too (regenerate, edit)
    assert [b.text for b in view.bubbles] == ["q"]
    view.clear()
    assert view.bubbles == [] and not view.jump_button.isVisible()


def test_a_long_stats_line_wraps_instead_of_pushing_the_reply_out_of_view(qtbot: QtBot) -> None:
    view = ChatView()
    qtbot.addWidget(view)
    view.resize(520, 400)
    view.show()
    view.add_message("user", "Hi")
    view.begin_reply()
    footer = " · ".join(["90 tokens", "1987.6 tok/s", "first token 0.03 s", "q4_k_m", "Assistant"] * 4)
    view.end_reply("A short reply.", footer)
    qtbot.wait(50)
    bubble = view.bubbles[-1]
    right_edge = bubble.mapTo(view.viewport(), bubble.rect().topRight()).x()
    assert right_edge <= view.viewport().width()
    assert bubble.copy_button is not None and bubble.copy_button.isVisible()
    copy_right = bubble.copy_button.mapTo(view.viewport(), bubble.copy_button.rect().topRight()).x()
    assert copy_right <= view.viewport().width()


def test_a_link_in_a_reply_opens_only_after_the_user_saw_where_it_goes(qtbot: QtBot) -> None:
    from PySide6.QtGui import QDesktopServices
    from PySide6.QtWidgets import QMessageBox

    from tests.qt.conftest import OpenedUrls

    view = _view(qtbot)
    # Document text can carry a link whose words name one site and whose target is another.
    bubble = view.add_message("assistant", "See [the official docs](https://evil.example/steal).")
    [label] = [w for w in bubble.findChildren(FrozenLabel) if "href" in w.text()]
    opened = OpenedUrls()
    shown: list[str] = []

    def answer(button: QMessageBox.StandardButton) -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        shown.append(box.informativeText())
        box.button(button).click()

    QDesktopServices.setUrlHandler("https", opened, "open")
    try:
        QTimer.singleShot(50, lambda: answer(QMessageBox.StandardButton.Cancel))
        label.linkActivated.emit("https://evil.example/steal")
        assert opened.urls == []
        QTimer.singleShot(50, lambda: answer(QMessageBox.StandardButton.Open))
        label.linkActivated.emit("https://evil.example/steal")
        assert [u.toString() for u in opened.urls] == ["https://evil.example/steal"]
    finally:
        QDesktopServices.unsetUrlHandler("https")
    assert shown == ["https://evil.example/steal"] * 2
