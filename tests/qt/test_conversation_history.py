"""Conversations that last, as the window shows them: stored as they happen, searched, resumed, undone."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from reflexia.app import ReflexiaApp, build_app
from reflexia.core.config.settings import load_settings
from reflexia.services.conversation_list import DETAIL_ROLE, TITLE_ROLE

SHORT = {"sampling": {"max_tokens": 12, "temperature": 0}}


def _load(qtbot: QtBot, app: ReflexiaApp, model: Path) -> None:
    with qtbot.waitSignal(app.inference.model_loaded, timeout=20_000):
        app.load_model(model)


def _ask(qtbot: QtBot, app: ReflexiaApp, text: str) -> object:
    with qtbot.waitSignal(app.chat.reply_finished, timeout=20_000) as finished:
        app.window.send(text)
    return finished.args[0]


def _titles(app: ReflexiaApp) -> list[str]:
    """The titles the sidebar lists, once the history thread has done what it was asked."""
    app.history.settle()
    model = app.window.sidebar.model
    return [str(model.index(row, 0).data(TITLE_ROLE)) for row in range(model.rowCount())]


def test_the_users_message_is_stored_before_the_reply_and_the_reply_when_it_ends(
    qtbot: QtBot, make_app, tiny_model: Path
) -> None:
    app = make_app(SHORT)
    _load(qtbot, app, tiny_model)
    assert app.history is not None
    stored_first: list[list[str]] = []

    def look() -> None:  # while the reply is being made
        conversation = app.history.store.get_conversation(app.chat.conversation_id)
        stored_first.append([m.status for m in conversation.messages])

    app.chat.reply_running.connect(look)
    _ask(qtbot, app, "Where do lighthouses stand?")
    assert stored_first == [["complete", "pending"]]
    messages = app.history.store.get_conversation(app.chat.conversation_id).messages
    # Cut at the 12-token limit: kept, and marked so.
    assert [(m.role, m.status) for m in messages] == [("user", "complete"), ("assistant", "cut")]
    assert messages[1].expert_role == "Assistant" and messages[1].rung == "q4_k_m"
    assert _titles(app) == ["Where do lighthouses stand?"]


def test_a_conversation_is_resumed_from_the_sidebar_with_the_models_memory_of_it(
    qtbot: QtBot, make_app, small_model: Path
) -> None:
    app = make_app(SHORT)
    _load(qtbot, app, small_model)
    _ask(qtbot, app, "First question about rivers")
    earlier = app.chat.conversation_id
    first_reply = app.window.chat_view.bubbles[-1].text
    app.window.new_chat()
    _ask(qtbot, app, "Something else entirely")
    with qtbot.waitSignal(app.history.loaded, timeout=5_000):  # read on the history thread
        app.window.sidebar.open_requested.emit(earlier)
    assert [b.text for b in app.window.chat_view.bubbles] == ["First question about rivers", first_reply]
    assert app.chat.conversation_id == earlier
    resumed = _ask(qtbot, app, "And lakes?")
    # The engine still had this conversation's cache: the history was not evaluated again.
    assert resumed.stats.cached_prompt_tokens > 20


def test_the_app_opened_again_lists_and_reopens_yesterdays_conversation(
    qtbot: QtBot, make_app, tiny_model: Path
) -> None:
    first = make_app(SHORT)
    _load(qtbot, first, tiny_model)
    _ask(qtbot, first, "Remember the harbour")
    conversation_id = first.chat.conversation_id
    first.shutdown()
    again = build_app(load_settings())
    qtbot.addWidget(again.window)
    try:
        assert _titles(again) == ["Remember the harbour"]
        with qtbot.waitSignal(again.history.loaded, timeout=5_000):
            again.window.open_conversation(conversation_id)
        assert again.window.chat_view.bubbles[0].text == "Remember the harbour"
        assert "tokens" in again.window.chat_view.bubbles[1].footer.text()
    finally:
        again.shutdown()


def test_search_finds_the_message_the_user_remembers(qtbot: QtBot, make_app, tiny_model: Path) -> None:
    app = make_app(SHORT)
    _load(qtbot, app, tiny_model)
    _ask(qtbot, app, "Tell me about the Fresnel lens")
    app.window.new_chat()
    _ask(qtbot, app, "What about tides?")
    app.window.menu_actions.find.trigger()
    assert app.window.sidebar.search_box.hasFocus()
    qtbot.keyClicks(app.window.sidebar.search_box, "fresnel")
    qtbot.waitUntil(lambda: _titles(app) == ["Tell me about the Fresnel lens"], timeout=5_000)


def test_delete_can_be_undone_from_the_banner(qtbot: QtBot, make_app, tiny_model: Path) -> None:
    app = make_app(SHORT)
    _load(qtbot, app, tiny_model)
    _ask(qtbot, app, "Keep me")
    conversation_id = app.chat.conversation_id
    app.window.sidebar.delete(conversation_id, "Keep me")
    assert _titles(app) == [] and app.window.chat_view.bubbles == []
    assert "Deleted" in app.window.banner.label.text()
    app.window.banner.action_button.click()
    assert _titles(app) == ["Keep me"]


def test_regenerate_replaces_the_last_reply_and_a_stopped_reply_is_kept_and_marked(
    qtbot: QtBot, make_app, small_model: Path
) -> None:
    app = make_app({"sampling": {"max_tokens": 100_000, "temperature": 0.8, "seed": 1}})
    _load(qtbot, app, small_model)
    with qtbot.waitSignal(app.chat.reply_token, timeout=10_000):
        app.window.send("A long story, please")
    with qtbot.waitSignal(app.chat.reply_finished, timeout=10_000):
        app.chat.stop()
    assert app.history is not None
    messages = app.history.store.get_conversation(app.chat.conversation_id).messages
    assert messages[-1].status == "stopped" and messages[-1].content
    with qtbot.waitSignal(app.chat.reply_token, timeout=10_000):
        app.window.menu_actions.regenerate.trigger()
    with qtbot.waitSignal(app.chat.reply_finished, timeout=10_000):
        app.chat.stop()
    messages = app.history.store.get_conversation(app.chat.conversation_id).messages
    assert [m.role for m in messages] == ["user", "assistant"]
    assert [b.role for b in app.window.chat_view.bubbles] == ["user", "assistant"]
    assert len(app.chat.conversation.turns) == 2

    app.window.menu_actions.edit_last.trigger()
    assert app.window.composer.input.toPlainText() == "A long story, please"
    assert app.window.chat_view.bubbles == [] and app.chat.conversation.turns == []


def test_an_unreadable_history_is_reported_and_left_alone(qtbot: QtBot, make_app) -> None:
    from reflexia.core.history.store import default_history_path

    path = default_history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a database at all" * 100)
    before = path.read_bytes()
    app = make_app()
    banner = app.window.banner
    qtbot.waitUntil(lambda: "Conversations are not being saved" in banner.label.text(), timeout=5_000)
    assert not app.history.available
    assert str(path) in app.window.banner.label.text()
    assert path.read_bytes() == before


def test_editing_an_earlier_message_replaces_it_and_what_followed_so_the_model_forgets_it(
    qtbot: QtBot, make_app, smollm2_model: Path
) -> None:
    app = make_app({"sampling": {"temperature": 0, "max_tokens": 40, "repeat_penalty": 1.0}})
    with qtbot.waitSignal(app.inference.model_loaded, timeout=30_000):
        app.load_model(smollm2_model)
    for text in ("Hi!", "The meeting is in room Zorblax.", "I like tea."):
        with qtbot.waitSignal(app.chat.reply_finished, timeout=60_000):
            app.window.send(text)
    first_reply = app.window.chat_view.bubbles[1].text
    second = app.window.chat_view.bubbles[2]
    assert second.edit_button is not None
    second.edit_button.click()  # Edit on the second of the three messages

    assert app.window.composer.input.toPlainText() == "The meeting is in room Zorblax."
    assert [b.text for b in app.window.chat_view.bubbles] == ["Hi!", first_reply]
    assert app.history is not None
    stored = app.history.store.get_conversation(app.chat.conversation_id).messages
    assert [m.content for m in stored] == ["Hi!", first_reply]

    app.window.composer.input.setPlainText("I like coffee.")
    with qtbot.waitSignal(app.chat.reply_finished, timeout=60_000):
        app.window.composer.button.click()
    with qtbot.waitSignal(app.chat.reply_finished, timeout=60_000) as finished:
        app.window.send("Which room is the meeting in?")
    # The model answers from the edited conversation: what was said before the edit is gone.
    assert "Zorblax" not in finished.args[0].text, finished.args[0].text
    stored = app.history.store.get_conversation(app.chat.conversation_id).messages
    assert [m.content for m in stored if m.role == "user"] == [
        "Hi!",
        "I like coffee.",
        "Which room is the meeting in?",
    ]


def test_a_message_the_app_never_answered_comes_back_to_the_input_box(qtbot: QtBot, make_app) -> None:
    app = make_app()
    assert app.history is not None
    store = app.history.store
    conversation_id = store.create_conversation()
    store.add_message(conversation_id, "user", "Earlier question")
    store.add_message(conversation_id, "assistant", "Earlier answer")
    store.add_message(conversation_id, "user", "Asked just before the crash")
    store.add_message(conversation_id, "assistant", "", status="pending")  # kill -9 during the reply

    with qtbot.waitSignal(app.history.loaded, timeout=5_000):
        app.window.open_conversation(conversation_id)

    assert app.window.composer.input.toPlainText() == "Asked just before the crash"
    assert [b.text for b in app.window.chat_view.bubbles] == ["Earlier question", "Earlier answer"]
    assert [t.content for t in app.chat.conversation.turns] == ["Earlier question", "Earlier answer"]
    assert [m.content for m in store.get_conversation(conversation_id).messages] == [
        "Earlier question",
        "Earlier answer",
    ]


def _search(qtbot: QtBot, app: ReflexiaApp, query: str) -> list[str]:
    """Type ``query`` into the sidebar's search box; each row's title and detail once the hits are shown."""
    sidebar = app.window.sidebar
    with qtbot.waitSignal(app.history.searched, timeout=5_000):
        sidebar.search_box.setText(query)
    model = sidebar.model
    rows = [model.index(row, 0) for row in range(model.rowCount())]
    return [f"{index.data(TITLE_ROLE)}\n{index.data(DETAIL_ROLE)}" for index in rows]


def test_search_lists_each_conversation_once_with_its_snippet_free_of_markdown(
    qtbot: QtBot, make_app
) -> None:
    app = make_app()
    assert app.history is not None
    store = app.history.store
    talky = store.create_conversation(title="Lighthouse notes")
    store.add_message(talky, "user", "What is a **Fresnel** lens?")
    store.add_message(
        talky, "assistant", "## The Fresnel lens\n\nA `Fresnel` lens is *thin*: see [Fresnel](https://x.org)."
    )
    store.add_message(talky, "user", "- Fresnel again\n- and again")
    quiet = store.create_conversation(title="Optics")
    store.add_message(quiet, "user", "> Fresnel equations, please")

    rows = _search(qtbot, app, "fresnel")

    assert len(rows) == 2, rows  # one row per conversation, not one per matching message
    assert "Lighthouse notes" in rows[0] or "Lighthouse notes" in rows[1]
    for row in rows:
        snippet = row.split("\n", 1)[1]
        assert "\x02Fresnel\x03" in snippet, row  # the match stays marked, to be shown bold
        for markdown in ("**", "##", "`", "](", "> ", "- Fresnel", "*thin*"):
            assert markdown not in snippet, (markdown, row)


def test_an_edit_of_an_earlier_message_can_be_undone_from_the_banner(
    qtbot: QtBot, make_app, tiny_model: Path
) -> None:
    app = make_app(SHORT)
    _load(qtbot, app, tiny_model)
    for text in ("First", "Second", "Third"):
        _ask(qtbot, app, text)
    shown = [b.text for b in app.window.chat_view.bubbles]
    turns = list(app.chat.conversation.turns)
    stored = [
        (m.role, m.content, m.status)
        for m in app.history.store.get_conversation(app.chat.conversation_id).messages
    ]

    app.window.chat_view.bubbles[2].edit_button.click()  # Edit on "Second": "Third" and the replies go
    assert app.window.composer.input.toPlainText() == "Second"
    assert [b.text for b in app.window.chat_view.bubbles] == shown[:2]
    banner = app.window.banner
    assert banner.isVisible() and banner.action_button.text() == "Undo"

    with qtbot.waitSignal(app.history.restored, timeout=5_000):
        banner.action_button.click()
    qtbot.waitUntil(lambda: [b.text for b in app.window.chat_view.bubbles] == shown, timeout=5_000)
    assert app.chat.conversation.turns == turns
    assert app.window.composer.input.toPlainText() == ""
    restored = app.history.store.get_conversation(app.chat.conversation_id).messages
    assert [(m.role, m.content, m.status) for m in restored] == stored
    _ask(qtbot, app, "Fourth")  # the conversation goes on from where it was
    assert [m.content for m in app.history.store.get_conversation(app.chat.conversation_id).messages][:6] == [
        s[1] for s in stored
    ]


def test_a_conversation_saved_by_another_process_appears_when_the_window_is_used_again(
    qtbot: QtBot, make_app
) -> None:
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication

    from reflexia.core.history.store import HistoryStore
    from reflexia.services.conversation_list import TITLE_ROLE

    app = make_app()
    history = app.history
    assert history is not None and history.settle()
    other = HistoryStore(history.path)  # as `reflexia chat --save` writes it, from its own process
    try:
        conversation = other.create_conversation(title="Saved from the terminal")
        other.add_message(conversation, "user", "hello from the terminal")
    finally:
        other.close()
    model = history.conversations

    def titles() -> list[str]:
        return [model.data(model.index(i, 0), TITLE_ROLE) for i in range(model.rowCount())]

    assert "Saved from the terminal" not in titles()
    window = app.window
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    QApplication.sendEvent(window, QEvent(QEvent.Type.ActivationChange))  # the user comes back to it
    qtbot.waitUntil(lambda: "Saved from the terminal" in titles(), timeout=10_000)
