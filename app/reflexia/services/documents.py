"""The document index in the app: indexing and searching on a worker thread of their own.

The worker owns one ``DocumentIndex``; it is opened on the worker thread when documents
are first needed, so sentence-transformers, torch and ChromaDB are never imported on the
GUI thread, nor at all by a user who never adds a document. An indexing run advances one
step (a file, or a batch of chunks) per event-loop turn of the worker: a search asked for
during a long run is answered between two steps, pausing is not pulling the next step,
and cancelling is a flag the run reads before its next step. A run cut short (Quit, a
crash) is in the catalog's queue and is resumed by :meth:`DocumentsService.start`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

from reflexia.core.config.settings import Settings
from reflexia.core.rag.embedder import load_bytes
from reflexia.core.rag.values import DEFAULT_COLLECTION
from reflexia.services.documents_worker import DocumentsView, DocumentsWorker

log = logging.getLogger(__name__)

#: The embeddings model is released after this long unused (it holds about 450 MB).
EMBEDDER_IDLE_S = 300.0
_IDLE_CHECK_MS = 30_000


class DocumentsService(QObject):
    """The documents of the app, for the window and the chat. Lives on the GUI thread.

    Signals:
        progress(IndexProgress), run_finished(IndexSummary), failed(str),
        view_changed(DocumentsView): as the worker's.
        found(int, list[SearchHit]), search_failed(int, str): answers to :meth:`search`.
        busy_changed(bool): a run started or the last one ended.
        paused_changed(bool): the run was paused or goes on.
        reserve_changed(int): memory to keep free for the embeddings model: what loading it would
            take while documents are in use and it is not in memory, else 0.
    """

    progress = Signal(object)
    run_finished = Signal(object)
    failed = Signal(str)
    view_changed = Signal(object)
    found = Signal(int, object)
    search_failed = Signal(int, str)
    busy_changed = Signal(bool)
    paused_changed = Signal(bool)
    reserve_changed = Signal(int)

    _index_requested = Signal(object, str, bool)
    _sync_requested = Signal(object, str)
    _remove_requested = Signal(object, object)
    _search_requested = Signal(int, str, str, int)
    _paused_requested = Signal(bool)
    _settings_changed = Signal(object)
    _resume_requested = Signal()
    _refresh_requested = Signal()
    _release_requested = Signal(float)

    def __init__(self, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.collection = DEFAULT_COLLECTION  # where added documents go, and what the chat searches
        self.view = DocumentsView()
        self.embedder_in_memory = False
        self._in_use: dict[str, bool] = {}  # by client: which chats answer from the documents
        self.reserved_bytes = 0
        self._top_k = settings.rag.top_k
        self._tickets = 0
        self._busy = False
        self._paused = False
        self._thread = QThread()
        self._thread.setObjectName("documents")
        self._worker = DocumentsWorker(settings)
        self._worker.moveToThread(self._thread)
        self._index_requested.connect(self._worker.index)
        self._sync_requested.connect(self._worker.sync_folder)
        self._remove_requested.connect(self._worker.remove)
        self._search_requested.connect(self._worker.search)
        self._paused_requested.connect(self._worker.set_paused)
        self._settings_changed.connect(self._worker.apply_settings)
        self._resume_requested.connect(self._worker.resume_unfinished)
        self._refresh_requested.connect(self._worker.refresh)
        self._release_requested.connect(self._worker.release_if_idle)
        # Runs on the documents thread as it ends: the open run is closed where it opened.
        self._thread.finished.connect(self._worker.close, Qt.ConnectionType.DirectConnection)
        self._worker.progress.connect(self.progress)
        self._worker.run_finished.connect(self.run_finished)
        self._worker.failed.connect(self.failed)
        self._worker.view_changed.connect(self._on_view_changed)
        self._worker.found.connect(self.found)
        self._worker.search_failed.connect(self.search_failed)
        self._worker.embedder_loaded.connect(self._on_embedder_loaded)
        self._worker.busy_changed.connect(self._on_busy_changed)
        self._idle = QTimer(self)
        self._idle.setInterval(_IDLE_CHECK_MS)
        self._idle.timeout.connect(self._check_idle)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """True while documents are being indexed."""
        return self._busy

    @property
    def paused(self) -> bool:
        """True while the run is paused."""
        return self._paused

    def start(self) -> None:
        """Resume the runs a Quit or a crash cut short, and list what is indexed (both on the worker)."""
        self._resume_requested.emit()
        self._idle.start()

    def refresh(self) -> None:
        """List the collections and documents again (``view_changed`` follows)."""
        self._refresh_requested.emit()

    def add(self, paths: Sequence[Path], collection: str | None = None, *, force: bool = False) -> None:
        """Index files and folders (recursively) into ``collection`` (the current one by default)."""
        self._index_requested.emit(list(paths), collection or self.collection, force)

    def sync_folder(self, folder: Path, collection: str) -> None:
        """Bring a watched folder's documents up to date (new, changed and deleted files)."""
        self._sync_requested.emit(folder, collection)

    def remove(self, path: Path | None = None, collection: str | None = None) -> None:
        """Forget a document or folder (from ``collection``, or all), or a whole collection."""
        self._remove_requested.emit(path, collection)

    def set_paused(self, paused: bool) -> None:
        """Pause indexing between two steps, or go on."""
        if paused != self._paused:
            self._paused = paused
            self._paused_requested.emit(paused)
            self.paused_changed.emit(paused)

    def cancel(self) -> None:
        """Stop the running run before its next step; files not done are left out (not resumed later)."""
        self._worker.cancel.set()
        if self._paused:
            self.set_paused(False)

    def search(self, query: str, collection: str | None = None, k: int | None = None) -> int:
        """Ask for the passages answering ``query``; returns the ticket ``found`` will carry."""
        self._tickets += 1
        self._search_requested.emit(self._tickets, query, collection or self.collection, k or self._top_k)
        return self._tickets

    def apply_settings(self, settings: Settings) -> None:
        """New settings for the index (folder, embeddings model, chunk sizes, passages per question)."""
        self._top_k = settings.rag.top_k
        self._settings_changed.emit(settings)

    def shutdown(self) -> None:
        """Stop the worker after its current step; the run's files stay queued for the next start."""
        self._idle.stop()
        self._thread.quit()
        self._thread.wait()

    def note_in_use(self, client: str, in_use: bool) -> None:
        """The chat of ``client`` (window, quick) turned answering from the documents on or off."""
        self._in_use[client] = in_use
        self._update_reserve()

    def _update_reserve(self) -> None:
        needed = (any(self._in_use.values()) or self._busy) and not self.embedder_in_memory
        reserved = load_bytes() if needed else 0
        if reserved != self.reserved_bytes:
            self.reserved_bytes = reserved
            self.reserve_changed.emit(reserved)

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        self._busy = busy
        if not busy:
            self.set_paused(False)
        self._update_reserve()
        self.busy_changed.emit(busy)

    @Slot(object)
    def _on_view_changed(self, view: DocumentsView) -> None:
        self.view = view
        self.view_changed.emit(view)

    @Slot(bool)
    def _on_embedder_loaded(self, loaded: bool) -> None:
        self.embedder_in_memory = loaded  # in memory, it is counted in what the process uses
        self._update_reserve()

    def release_idle_embedder(self, idle_s: float = EMBEDDER_IDLE_S) -> None:
        """Give back the embeddings model's memory if it has not been used for ``idle_s`` (not mid-run)."""
        if self.embedder_in_memory:
            self._release_requested.emit(idle_s)  # the worker keeps it while a run is going on

    @Slot()
    def _check_idle(self) -> None:
        self.release_idle_embedder()
