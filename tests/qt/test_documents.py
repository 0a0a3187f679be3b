"""Documents in the window: dropped, indexed with progress, searched for grounded and cited answers.

Real components throughout: the real all-MiniLM-L6-v2 embedder, ChromaDB on disk in the
test's home, and SmolLM2-135M-Instruct where the answer must be coherent.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from reflexia.app import ReflexiaApp
from reflexia.core.rag.values import IndexProgress, IndexSummary
from tests.grounding_docs import FACT_FILE, QUESTION, write_grounding_docs
from tests.qt.conftest import Heartbeat, OpenedUrls

GREEDY = {"sampling": {"temperature": 0, "max_tokens": 60, "repeat_penalty": 1.0}}
INDEX_MS = 180_000  # an index run this long is stuck (the first one also loads the embedder)
HANG_MS = 60_000
FREEZE_S = 0.5


def _drop(qtbot: QtBot, app: ReflexiaApp, paths: list[Path]) -> None:
    """Drag ``paths`` from a file manager onto the window and let go."""
    window = app.window
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    where = window.chat_view.mapTo(window, QPoint(40, 40))
    enter = QDragEnterEvent(
        where, Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    assert window.drop_overlay.isVisible()
    assert "Drop to add to “default”" in window.drop_overlay.text()
    drop = QDropEvent(
        QPointF(where),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, drop)
    assert not window.drop_overlay.isVisible()


def _many_files(folder: Path, count: int, paragraphs: int = 12) -> Path:
    folder.mkdir(parents=True)
    for i in range(count):
        text = "\n\n".join(
            f"Section {j} of report {i}: the inspection of turbine {i}-{j} found wear on blade {j}, "
            f"vibration at {j * 3 + i} hertz and a temperature of {40 + j} degrees at the bearing. "
            "The crew replaced the seals, cleaned the filters and logged the readings for the next visit."
            for j in range(paragraphs)
        )
        (folder / f"report-{i:03d}.md").write_text(f"# Report {i}\n\n{text}\n", encoding="utf-8")
    return folder


def test_dropped_documents_ground_the_answer_and_the_file_is_cited(
    qtbot: QtBot, make_app, smollm2_model: Path, tmp_path: Path
) -> None:
    docs = write_grounding_docs(tmp_path / "docs")
    app = make_app(GREEDY)
    window = app.window
    with qtbot.waitSignal(app.documents.run_finished, timeout=INDEX_MS) as finished:
        _drop(qtbot, app, [docs])
    summary: IndexSummary = finished.args[0]
    assert len(summary.indexed) == 3 and not summary.failed
    panel = window.documents_panel
    assert panel is not None and window.documents_dock is not None and window.documents_dock.isVisible()
    qtbot.waitUntil(lambda: panel.status_of(docs / FACT_FILE) == "indexed", timeout=10_000)

    with qtbot.waitSignal(app.inference.model_loaded, timeout=HANG_MS):
        app.load_model(smollm2_model)
    panel.use_documents.click()
    assert app.chat.documents_on
    with qtbot.waitSignal(app.chat.reply_finished, timeout=HANG_MS) as done:
        window.send(QUESTION)
    assert "42" in done.args[0].text, done.args[0].text
    reply = window.chat_view.bubbles[-1]
    assert reply.sources is not None and reply.sources.links
    assert FACT_FILE in reply.sources.links[0].text()

    opener = OpenedUrls()
    QDesktopServices.setUrlHandler("file", opener, "open")
    try:
        href = reply.sources.links[0].text().split('href="')[1].split('"')[0]
        reply.sources.links[0].linkActivated.emit(href)  # what a click on the link sends
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [Path(u.toLocalFile()) for u in opener.urls] == [docs / FACT_FILE]

    assert app.history is not None
    conversation_id = app.chat.conversation_id
    stored = app.history.store.get_conversation(conversation_id).messages[-1]
    assert stored.sources is not None and Path(str(stored.sources[0]["source"])) == docs / FACT_FILE
    assert f"{docs / FACT_FILE}" in app.history.store.export_markdown(conversation_id)

    window.new_chat()
    window.open_conversation(conversation_id)  # the sources come back with the conversation
    qtbot.waitUntil(lambda: len(window.chat_view.bubbles) == 2, timeout=5_000)
    shown = window.chat_view.bubbles[-1].sources
    assert shown is not None and FACT_FILE in shown.links[0].text()


def test_when_nothing_relevant_is_found_the_answer_says_so_and_cites_nothing(
    qtbot: QtBot, make_app, smollm2_model: Path, tmp_path: Path
) -> None:
    docs = write_grounding_docs(tmp_path / "docs")
    app = make_app(GREEDY)
    with qtbot.waitSignal(app.documents.run_finished, timeout=INDEX_MS):
        app.window.add_documents([docs])
    with qtbot.waitSignal(app.inference.model_loaded, timeout=HANG_MS):
        app.load_model(smollm2_model)
    app.window.set_documents_on(True)
    with qtbot.waitSignal(app.chat.reply_finished, timeout=HANG_MS):
        app.window.send("Who won the football world cup in 1966?")
    sources = app.window.chat_view.bubbles[-1].sources
    assert sources is not None and not sources.links
    assert "Nothing relevant was found in your documents" in sources.note.text()
    assert app.history is not None
    assert app.history.store.get_conversation(app.chat.conversation_id).messages[-1].sources == ()


def test_indexing_shows_progress_pauses_cancels_and_names_each_failure(
    qtbot: QtBot, make_app, tmp_path: Path
) -> None:
    folder = _many_files(tmp_path / "reports", 40)
    (folder / "aaa-broken.txt").write_bytes(b"\x00\x01binary\x00" * 200)  # first in the run
    app = make_app()
    panel = app.window.documents_panel
    assert panel is not None
    seen: list[IndexProgress] = []
    app.documents.progress.connect(seen.append)
    with Heartbeat() as heartbeat:
        with qtbot.waitSignal(app.documents.progress, timeout=INDEX_MS):
            app.window.add_documents([folder])
        qtbot.waitUntil(lambda: any(p.files_done >= 2 for p in seen), timeout=INDEX_MS)
        assert panel.progress_box.isVisible()
        assert "files" in panel.progress_label.text() and "chunks" in panel.progress_label.text()
        assert panel.status_of(folder / "aaa-broken.txt") == "failed"
        assert panel.failures.isVisible() and "aaa-broken.txt</b>: " in panel.failures.text()

        app.documents.set_paused(True)
        assert panel.pause_button.text() == "Resume"
        qtbot.wait(500)  # the step in progress ends
        paused_at = len(seen)
        qtbot.wait(2500)
        assert len(seen) == paused_at, "indexing went on while paused"

        app.documents.set_paused(False)
        qtbot.waitUntil(lambda: len(seen) > paused_at, timeout=INDEX_MS)
        with qtbot.waitSignal(app.documents.run_finished, timeout=INDEX_MS) as finished:
            panel.cancel_button.click()
    summary: IndexSummary = finished.args[0]
    assert summary.cancelled and len(summary.indexed) < 40
    assert heartbeat.max_gap_s < FREEZE_S, heartbeat.describe()
    qtbot.waitUntil(lambda: not panel.progress_box.isVisible(), timeout=10_000)
    assert panel.last_run.text().startswith("Cancelled: ")


def test_indexing_cut_short_by_quit_resumes_at_the_next_start(qtbot: QtBot, make_app, tmp_path: Path) -> None:
    folder = _many_files(tmp_path / "reports", 30)
    first = make_app()
    seen: list[IndexProgress] = []
    first.documents.progress.connect(seen.append)
    first.window.add_documents([folder])
    qtbot.waitUntil(lambda: any(p.files_done >= 1 for p in seen), timeout=INDEX_MS)
    first.shutdown()  # Quit in the middle of the run
    done_before = max(p.files_done for p in seen)
    assert done_before < 30

    again = make_app()  # the run goes on by itself
    with qtbot.waitSignal(again.documents.run_finished, timeout=INDEX_MS):
        pass
    qtbot.waitUntil(lambda: len(again.documents.view.in_collection("default")) == 30, timeout=10_000)


def test_a_watched_folder_picks_up_new_changed_and_deleted_files(
    qtbot: QtBot, make_app, tmp_path: Path
) -> None:
    folder = write_grounding_docs(tmp_path / "watched")
    app = make_app()

    def listed() -> set[str]:
        return {d.path.name for d in app.documents.view.in_collection("default")}

    with qtbot.waitSignal(app.documents.run_finished, timeout=INDEX_MS):
        app.folder_watcher.watch(folder, "default")
    qtbot.waitUntil(lambda: listed() == {"maintenance.md", "holidays.txt", "recipes.md"}, timeout=10_000)
    assert app.window.documents_panel is not None
    assert app.window.documents_panel.watched.count() == 1

    time.sleep(0.2)  # let the watcher's listing job finish
    (folder / "garden.md").write_text("# Garden\n\nWater the roses on Fridays.\n", encoding="utf-8")
    (folder / "recipes.md").unlink()
    qtbot.waitUntil(lambda: listed() == {"maintenance.md", "holidays.txt", "garden.md"}, timeout=30_000)

    def holidays_hash() -> str:
        return next(
            d.content_hash
            for d in app.documents.view.in_collection("default")
            if d.path.name == "holidays.txt"
        )

    before = holidays_hash()
    with (folder / "holidays.txt").open("a", encoding="utf-8") as edited:  # changed in place
        edited.write("The office also closes on New Year's Day.\n")
    qtbot.waitUntil(lambda: holidays_hash() != before, timeout=30_000)


def test_the_window_opens_without_importing_the_heavy_document_libraries(tmp_path: Path) -> None:
    import subprocess

    script = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from reflexia.app import build_app\n"
        "from reflexia.core.config.settings import load_settings\n"
        "qt = QApplication([])\n"
        "app = build_app(load_settings())\n"
        "app.window.show(); qt.processEvents()\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'chromadb') if m in sys.modules]\n"
        "app.shutdown()\n"
        "print(','.join(heavy) or 'none')\n"
    )
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False, env=env
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "none"


def test_the_embedder_is_counted_before_it_loads_and_released_when_unused(
    qtbot: QtBot, make_app, tmp_path: Path
) -> None:
    from reflexia.core.rag.embedder import load_bytes

    app = make_app()
    assert app.library.reserved_bytes == 0
    app.window.set_documents_on(True)  # the next message will need the embeddings model
    assert app.documents.reserved_bytes == load_bytes() > 0
    assert app.library.reserved_bytes == app.documents.reserved_bytes  # model fits leave room for it

    with qtbot.waitSignal(app.documents.run_finished, timeout=INDEX_MS):
        app.window.add_documents([write_grounding_docs(tmp_path / "docs")])
    qtbot.waitUntil(lambda: app.documents.embedder_in_memory, timeout=10_000)
    assert app.documents.reserved_bytes == 0  # in memory, it is part of what the process uses

    qtbot.waitUntil(lambda: not app.documents.busy, timeout=10_000)  # a run keeps it
    app.documents.release_idle_embedder(0.0)
    qtbot.waitUntil(lambda: not app.documents.embedder_in_memory, timeout=10_000)
    assert app.documents.reserved_bytes == load_bytes()  # documents are still on: room is kept again


def test_documents_follow_the_role_and_the_chat_switch(qtbot: QtBot, make_app) -> None:
    app = make_app()
    panel = app.window.documents_panel
    assert panel is not None
    assert not app.chat.documents_on and not panel.use_documents.isChecked()
    app.roles.choose("Research Assistant")  # a role that answers from the documents
    assert app.chat.documents_on and panel.use_documents.isChecked()
    panel.use_documents.click()  # this chat only: off
    assert not app.chat.documents_on
    app.roles.choose("Code Assistant")
    assert not app.chat.documents_on and not panel.use_documents.isChecked()


def test_a_document_is_removed_and_re_indexed_from_the_panel(qtbot: QtBot, make_app, tmp_path: Path) -> None:
    docs = write_grounding_docs(tmp_path / "docs")
    app = make_app()
    panel = app.window.documents_panel
    assert panel is not None
    with qtbot.waitSignal(app.documents.run_finished, timeout=INDEX_MS):
        app.window.add_documents([docs])
    qtbot.waitUntil(lambda: panel.tree.topLevelItemCount() == 3, timeout=10_000)

    def select(name: str) -> None:
        panel.tree.clearSelection()
        for i in range(panel.tree.topLevelItemCount()):
            item = panel.tree.topLevelItem(i)
            if item is not None and item.text(0) == name:
                item.setSelected(True)

    select("recipes.md")
    panel.remove_button.click()
    qtbot.waitUntil(lambda: panel.status_of(docs / "recipes.md") == "", timeout=10_000)
    assert {d.path.name for d in app.documents.view.in_collection("default")} == {
        "maintenance.md",
        "holidays.txt",
    }

    select("holidays.txt")
    with qtbot.waitSignal(app.documents.run_finished, timeout=INDEX_MS) as finished:
        panel.reindex_button.click()
    assert finished.args[0].indexed == (docs / "holidays.txt",)  # done again though unchanged


def test_a_pdf_source_opens_at_its_page() -> None:
    from reflexia.ui.sources_view import source_url

    url = source_url({"source": "/docs/manual.pdf", "page": 3})
    assert url.toLocalFile() == "/docs/manual.pdf" and url.fragment() == "page=3"
    assert source_url({"source": "/docs/notes.md", "page": None}).fragment() == ""


def test_a_new_vector_store_folder_is_used_at_once_with_its_own_watch_list(
    qtbot: QtBot, make_app, tmp_path: Path
) -> None:
    app = make_app()
    with qtbot.waitSignal(app.documents.run_finished, timeout=INDEX_MS):
        app.folder_watcher.watch(write_grounding_docs(tmp_path / "watched"), "default")
    qtbot.waitUntil(lambda: len(app.documents.view.in_collection("default")) == 3, timeout=10_000)

    app.store.update({"paths.vector_db_path": str(tmp_path / "elsewhere")})

    qtbot.waitUntil(lambda: app.documents.view.collections == (), timeout=10_000)  # an empty index there
    assert app.folder_watcher.folders == []
    assert app.window.documents_panel is not None and app.window.documents_panel.watched.count() == 0
