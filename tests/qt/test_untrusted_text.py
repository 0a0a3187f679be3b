"""Names, documents, model metadata and errors are shown as text in every place of the window.

Each hostile string (tags, an image of /dev/zero, quotes, a right-to-left override, a 10,000-character
name) goes through the banner, the model menu and status bar, the sidebar, the documents panel, the
sources under a reply, a reply's Markdown and the quick prompt, while a GUI heartbeat watches for a
freeze. Plain labels must stay plain; rich ones must hold the text escaped.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QRect, Qt
from PySide6.QtGui import QDesktopServices, QHelpEvent
from PySide6.QtWidgets import QLabel, QStyleOptionViewItem, QToolTip
from pytestqt.qtbot import QtBot

from reflexia.core.models.model_factory import make_model
from reflexia.services.conversation_list import TITLE_ROLE
from reflexia.ui.markup import LONGEST_VALUE, markup, shown
from reflexia.ui.message_bubble import MessageBubble
from reflexia.ui.sources_view import SourcesView
from tests.hostile_strings import NAMES, TEXTS, looks_escaped
from tests.qt.conftest import Heartbeat, OpenedUrls

FREEZE_S = 0.5


def test_the_helper_escapes_every_value_and_keeps_its_own_markup() -> None:
    for text in TEXTS:
        rich = markup("<b>Could not load</b> {}", text)
        assert rich.startswith("<b>Could not load</b> ") and looks_escaped(rich, text)
    assert markup("{}", markup("<i>{}</i>", "<x>")) == "<i>&lt;x&gt;</i>"  # Markup goes in as it is
    assert "\u202e" not in shown("evil\u202eexe.txt")
    assert len(shown("y" * 10_000)) <= LONGEST_VALUE


@pytest.mark.parametrize("text", TEXTS)
def test_the_banner_shows_errors_as_written(qtbot: QtBot, make_app, text: str) -> None:
    window = make_app().window
    with Heartbeat() as beat:
        window.show_error(text)  # what exceptions from any thread, and services' failures, send
        label = window.banner.label
        assert label.textFormat() == Qt.TextFormat.PlainText
        assert label.text() == shown(text, limit=4 * LONGEST_VALUE)
        window.show_problems([text, "second problem"])  # start-up problems: our markup, their text
        assert label.textFormat() == Qt.TextFormat.RichText and looks_escaped(label.text(), text)
        qtbot.wait(50)
    assert beat.max_gap_s < FREEZE_S, beat.describe()
    assert window.width() < 3000  # a long text wraps or is cut; it never widens the window


def test_a_model_with_a_hostile_file_and_metadata_name(qtbot: QtBot, make_app, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    hostile = "<img src=x onerror=1> " + "z" * 10_000
    model = make_model(models / f"{NAMES[0]}.gguf", name=hostile)
    app = make_app(models_dir=models)
    window = app.window
    with Heartbeat() as beat:
        with qtbot.waitSignal(app.inference.model_loaded, timeout=60_000):
            app.load_model(model)
        qtbot.wait(100)
    assert beat.max_gap_s < FREEZE_S, beat.describe()
    assert window.model_label.textFormat() == Qt.TextFormat.PlainText
    name = app.inference.model.name if app.inference.model else ""
    assert name in (NAMES[0], shown(hostile)) or name.startswith("<")  # the file's or the metadata's name
    assert window.model_label.text().startswith(name[:40])
    assert window.width() < 3000
    hint = window.chat_view.empty_hint
    assert hint.textFormat() == Qt.TextFormat.RichText and looks_escaped(hint.text(), name)
    items = [window.picker.itemText(i) for i in range(window.picker.count())]
    assert any(NAMES[0] in item or "<img" in item for item in items)  # a combo box shows plain text

    broken = models / f"{NAMES[1]}.gguf"
    broken.write_bytes(model.read_bytes()[:4000])
    with qtbot.waitSignal(app.inference.model_load_failed, timeout=30_000):
        app.load_model(broken)
    assert "Could not load the model" in window.banner.label.text()
    assert looks_escaped(window.banner.label.text(), NAMES[1])


@pytest.mark.parametrize("name", NAMES)
def test_sources_show_names_and_passages_as_text(qtbot: QtBot, tmp_path: Path, name: str) -> None:
    document = tmp_path / f"{name}.md"
    document.write_text("the passage", encoding="utf-8")
    missing = tmp_path / "gone" / f"{name}.pdf"
    view = SourcesView(
        [
            {"source": str(document), "text": f"<img src=/dev/zero> {name}", "score": 0.9},
            {"source": str(missing), "page": 3, "text": "x", "score": 0.5},
        ]
    )
    qtbot.addWidget(view)
    first, second = view.links
    assert looks_escaped(first.text(), name) and 'href="source:1"' in first.text()
    opener = OpenedUrls()
    QDesktopServices.setUrlHandler("file", opener, "open")
    try:
        first.linkActivated.emit("source:1")
        second.linkActivated.emit("source:2")  # the file is gone: said under the sources
        first.linkActivated.emit("https://evil.example/")  # not one of ours: nothing opens
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [Path(u.toLocalFile()) for u in opener.urls] == [document]
    assert view.problem.isVisibleTo(view) and "cannot be opened: it is no longer at" in view.problem.text()
    assert view.problem.textFormat() == Qt.TextFormat.PlainText


def test_a_reply_never_loads_an_image(qtbot: QtBot) -> None:
    # A reply that repeats a document's image would make Qt read /dev/zero on the GUI thread.
    bubble = MessageBubble("assistant", "Here: ![the manual](/dev/zero) and <img src=/dev/zero>")
    qtbot.addWidget(bubble)
    bubble.finish()
    html_shown = " ".join(label.text() for label in bubble.findChildren(QLabel))
    assert "<img" not in html_shown and 'href="/dev/zero"' in html_shown
    assert "the manual" in bubble.rendered_text()
    bubble.set_footer("<b>Code Assistant</b> · " + "w" * 10_000)
    assert bubble.footer.textFormat() == Qt.TextFormat.PlainText


def test_the_quick_prompt_shows_the_question_as_written(qtbot: QtBot, make_app, tiny_model: Path) -> None:
    app = make_app()
    with qtbot.waitSignal(app.inference.model_loaded, timeout=60_000):
        app.load_model(tiny_model)
    quick = app.quick_prompt
    quick.open_near(QRect())
    question = "<img src=/dev/zero> <b>not bold</b> \u202e " + "q" * 10_000
    # Too long for the tiny model's context: the reply fails, and says so, after it started.
    with qtbot.waitSignal(app.quick_session.reply_failed, timeout=60_000):
        quick.input.setText(question)
        quick.ask()
    assert quick.status.textFormat() == Qt.TextFormat.PlainText
    assert quick.question.textFormat() == Qt.TextFormat.PlainText
    assert quick.question.text().startswith("<img src=/dev/zero> <b>not bold</b>")
    assert quick.width() < 3000
    quick.hide()


def test_the_sidebar_shows_titles_as_text(qtbot: QtBot, make_app) -> None:
    app = make_app()
    history = app.history
    for text in NAMES[:4]:
        conversation = history.store.create_conversation(title=text)
        history.store.add_message(conversation, "user", f"about {text}")
    sidebar = app.window.sidebar
    sidebar.refresh()
    history.settle()
    # The delegate paints the rows as text: no label, no rich text in the list.
    assert sidebar.list.findChildren(QLabel) == []
    model = sidebar.model
    titles = [model.index(row, 0).data(TITLE_ROLE) for row in range(model.rowCount())]
    assert sorted(titles) == sorted(NAMES[:4])
    sidebar.list.grab()  # every row painted
    where = sidebar.list.visualRect(model.index(0, 0)).center()
    tip = QHelpEvent(QEvent.Type.ToolTip, where, sidebar.list.viewport().mapToGlobal(where))
    sidebar.list.itemDelegate().helpEvent(tip, sidebar.list, QStyleOptionViewItem(), model.index(0, 0))
    assert looks_escaped(QToolTip.text(), titles[0]) and "&lt;" in QToolTip.text()
    with qtbot.waitSignal(history.searched, timeout=5_000):
        sidebar.search_box.setText("about")
    hits = [sidebar.model.index(row, 0).data(TITLE_ROLE) for row in range(sidebar.model.rowCount())]
    assert sorted(hits) == sorted(NAMES[:4])


def test_the_documents_panel_names_failed_files_as_text(qtbot: QtBot, make_app, tmp_path: Path) -> None:
    app = make_app({"paths": {"vector_db_path": str(tmp_path / "index")}})
    folder = tmp_path / "docs"
    folder.mkdir()
    for name in NAMES[:3]:
        (folder / f"{name}.pdf").write_bytes(b"%PDF-1.4 not really a PDF <img src=/dev/zero>")
    with Heartbeat() as beat:
        with qtbot.waitSignal(app.documents.run_finished, timeout=180_000):
            app.documents.add([folder])
        qtbot.wait(100)
    assert beat.max_gap_s < FREEZE_S, beat.describe()
    panel = app.window.documents_panel
    assert panel is not None
    failures = panel.failures.text()
    assert panel.failures.textFormat() == Qt.TextFormat.RichText
    for name in NAMES[:3]:
        assert looks_escaped(failures, name)
    assert "<img" not in failures
