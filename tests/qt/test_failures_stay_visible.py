"""Every failure ends in a visible state, and the rest of the app goes on.

Real faults where they can be had: a full disk (a small tmpfs mounted by the test, as root), a
database file damaged under the running app, a database locked by another process. Where a fault
cannot be made for real (a library raising something unforeseen), the failing call is replaced.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from reflexia.core.engine.llama_cpp.engine import LlamaCppBackend
from reflexia.core.errors import as_user_error
from tests.qt.test_documents import _many_files

INDEX_MS = 180_000
HANG_MS = 60_000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 6 MB disk (tmpfs), unmounted after the test; skipped where mounting is refused."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(folder)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_sqlite_and_disk_failures_read_as_what_they_mean() -> None:
    full = as_user_error(sqlite3.OperationalError("database or disk is full"), "indexing")
    assert str(full) == "Indexing failed: the disk is full: free some space and try again"
    locked = as_user_error(sqlite3.OperationalError("database is locked"), "saving the conversation")
    assert "another program holds the database locked" in str(locked)
    damaged = as_user_error(
        sqlite3.DatabaseError("database disk image is malformed"), "searching your documents"
    )
    assert str(damaged) == "Searching your documents failed: its database file is damaged"
    odd = as_user_error(KeyError("x"), "scanning")
    assert str(odd) == "Unexpected error while scanning: KeyError: 'x'"


def test_indexing_onto_a_full_disk_ends_with_one_line_and_the_panel_goes_on(
    qtbot: QtBot, make_app, small_disk: Path, tmp_path: Path
) -> None:
    app = make_app({"paths": {"vector_db_path": str(small_disk / "index")}})
    docs = _many_files(tmp_path / "reports", 60, paragraphs=40)
    messages: list[str] = []
    app.documents.failed.connect(messages.append)
    busy: list[bool] = []
    app.documents.busy_changed.connect(busy.append)
    app.documents.add([docs])
    # Either the run's failure or a run that reports its files as failed: never a worker busy for good.
    qtbot.waitUntil(lambda: bool(busy) and busy[-1] is False, timeout=INDEX_MS)
    said = " ".join(messages)
    panel_failures = app.window.documents_panel.failures.text() if app.window.documents_panel else ""
    assert "disk is full" in said or "No space left" in said or "full" in panel_failures, (
        said,
        panel_failures,
    )
    # The documents thread still answers: a search comes back (found or failed), it does not hang.
    with qtbot.waitSignals([app.documents.found], timeout=HANG_MS, raising=False) as answered:
        app.documents.search("turbine blade wear")
    assert answered.signal_triggered or messages


def test_a_catalog_damaged_under_the_running_app_still_ends_the_search(
    qtbot: QtBot, make_app, tmp_path: Path
) -> None:
    app = make_app({"paths": {"vector_db_path": str(tmp_path / "index")}})
    docs = _many_files(tmp_path / "reports", 3, paragraphs=4)
    with qtbot.waitSignal(app.documents.run_finished, timeout=INDEX_MS):
        app.documents.add([docs])
    # Every byte of the catalog (and of its write-ahead log) overwritten under the open connection.
    for part in (tmp_path / "index").glob("documents.sqlite3*"):
        size = part.stat().st_size
        with part.open("r+b") as damaged:
            damaged.write(b"\xde\xad" * (size // 2))
    answers: list[object] = []
    app.documents.search_failed.connect(lambda _ticket, message: answers.append(message))
    app.documents.found.connect(lambda _ticket, hits: answers.append(hits))
    app.documents.search("turbine blade wear")
    qtbot.waitUntil(lambda: bool(answers), timeout=HANG_MS)  # an answer, whatever SQLite raised
    assert isinstance(answers[0], str) and "damaged" in answers[0], answers[0]


def test_an_unload_that_raises_does_not_stall_the_queue(
    qtbot: QtBot, make_app, tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()
    with qtbot.waitSignal(app.inference.model_loaded, timeout=HANG_MS):
        app.load_model(tiny_model)
    real_unload = LlamaCppBackend.unload
    calls: list[int] = []

    def unload_that_raises(self: LlamaCppBackend) -> None:
        real_unload(self)
        if not calls:
            calls.append(1)
            raise RuntimeError("the GPU driver went away")

    monkeypatch.setattr(LlamaCppBackend, "unload", unload_that_raises)
    with qtbot.waitSignal(app.inference.model_unloaded, timeout=HANG_MS):
        app.inference.unload()
    with qtbot.waitSignal(app.inference.model_loaded, timeout=HANG_MS):  # the next request runs
        app.load_model(tiny_model)


def test_a_failed_scan_of_the_models_folder_is_shown(
    qtbot: QtBot, make_app, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app()

    def scan_that_fails(*_args: object) -> None:
        raise PermissionError(13, "Permission denied", "/models")

    monkeypatch.setattr("reflexia.services.model_library.build_snapshot", scan_that_fails)
    app.library.rescan()
    banner = app.window.banner
    qtbot.waitUntil(
        lambda: banner.isVisible() and "could not be scanned" in banner.label.text(), timeout=HANG_MS
    )
    assert "Permission denied" in banner.label.text()


def test_a_history_locked_by_another_process_is_said_and_the_chat_goes_on(
    qtbot: QtBot, make_app, tiny_model: Path, tmp_path: Path
) -> None:
    app = make_app({"sampling": {"max_tokens": 8}})
    assert app.history is not None
    with qtbot.waitSignal(app.inference.model_loaded, timeout=HANG_MS):
        app.load_model(tiny_model)
    database = app.history.store.path
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"db = sqlite3.connect({str(database)!r}, isolation_level=None)\n"
            "db.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        errors: list[str] = []
        app.history.failed.connect(errors.append)
        started = time.monotonic()
        with qtbot.waitSignal(app.chat.reply_finished, timeout=HANG_MS):
            app.window.send("hello while the history is locked")
        qtbot.waitUntil(lambda: bool(errors), timeout=HANG_MS)
        assert "locked" in errors[0], errors
        assert time.monotonic() - started < 30
        banner = app.window.banner
        assert banner.isVisible() and "locked" in banner.label.text()
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    with qtbot.waitSignal(app.chat.reply_finished, timeout=HANG_MS):  # once free, the chat goes on
        app.window.send("and again")


def test_quit_during_indexing_ends_within_a_bound(qtbot: QtBot, make_app, tmp_path: Path) -> None:
    app = make_app({"paths": {"vector_db_path": str(tmp_path / "index")}})
    docs = _many_files(tmp_path / "reports", 40, paragraphs=30)
    with qtbot.waitSignal(app.documents.progress, timeout=INDEX_MS):  # the run is under way
        app.documents.add([docs])
    started = time.monotonic()
    app.documents.shutdown()  # what Quit does: the run stops after its step, its files stay queued
    # One step (a file, or a batch of 64 chunks) is the most Quit waits for: seconds, never the run.
    # The limit only catches a hang; the time it took is printed for the notes.
    took = time.monotonic() - started
    print(f"quit during indexing took {took:.1f} s")
    assert took < 60.0
