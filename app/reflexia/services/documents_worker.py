"""The documents thread's side: one ``DocumentIndex``, advanced one indexing step per event-loop turn.

See ``services/documents.py`` for how the app uses it. Every slot here runs on the documents thread.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from reflexia.core.config.settings import Settings
from reflexia.core.errors import as_user_error
from reflexia.core.rag.values import CollectionInfo, DocumentInfo, IndexProgress

if TYPE_CHECKING:
    from reflexia.core.rag.index import DocumentIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DocumentsView:
    """What the documents panel lists: every collection and its documents."""

    collections: tuple[CollectionInfo, ...] = ()
    documents: tuple[DocumentInfo, ...] = ()

    def in_collection(self, name: str) -> list[DocumentInfo]:
        """The documents of one collection."""
        return [d for d in self.documents if d.collection == name]


@dataclass
class _Run:
    paths: list[Path]
    collection: str
    force: bool = False
    removed_first: list[Path] = field(default_factory=list)  # files gone from a watched folder


class DocumentsWorker(QObject):
    """Holds the index; every slot runs on the documents thread.

    Signals:
        progress(IndexProgress): after every file and batch of chunks.
        run_finished(IndexSummary): a run ended (``summary.cancelled`` if it was cancelled).
        failed(str): a command failed; the message is for the user.
        view_changed(DocumentsView): collections or documents changed.
        found(int, list[SearchHit]): the passages for a search ticket (empty: nothing relevant).
        search_failed(int, str): a search could not be made.
        embedder_loaded(bool): the embeddings model came into memory or left it.
        busy_changed(bool): a run started with none running, or the last queued run ended.
    """

    progress = Signal(object)
    run_finished = Signal(object)
    failed = Signal(str)
    view_changed = Signal(object)
    found = Signal(int, object)
    search_failed = Signal(int, str)
    embedder_loaded = Signal(bool)
    busy_changed = Signal(bool)

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.cancel = threading.Event()  # set from any thread: the run stops before its next step
        self._settings = settings
        self._index: DocumentIndex | None = None
        self._runs: deque[_Run] = deque()
        self._current: Generator[IndexProgress, None, None] | None = None
        self._paused = False
        self._removals: deque[tuple[Path | None, str | None]] = deque()  # wait for the run to end
        self._busy = False

    def _opened(self) -> DocumentIndex:
        if self._index is None:
            from reflexia.core.rag.index import DocumentIndex  # the heavy imports, on this thread

            self._index = DocumentIndex.from_settings(self._settings)
        return self._index

    # -- commands -------------------------------------------------------------------------
    @Slot(object)
    def apply_settings(self, settings: Settings) -> None:
        """New settings: a new folder, model or chunk size reopens the index after the run."""
        self._settings = settings
        if self._current is None and self._index is not None:
            self._index.close()
            self._index = None
            self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Announce the collections and documents as they are now."""
        try:
            index = self._opened()
            collections = tuple(index.collections())
            documents = tuple(d for c in collections for d in index.documents(c.name))
        except Exception as error:
            self.failed.emit(str(as_user_error(error, "reading the document catalog")))
            return
        self.view_changed.emit(DocumentsView(collections, documents))

    @Slot(object, str, bool)
    def index(self, paths: Sequence[Path], collection: str, force: bool) -> None:
        """Queue a run over files and folders; it starts when the one before it ends."""
        self._runs.append(_Run(list(paths), collection, force))
        self._next_run()

    @Slot(object, str)
    def sync_folder(self, folder: Path, collection: str) -> None:
        """A watched folder changed: forget its deleted files, index the new and changed ones."""
        if not folder.is_dir():
            return
        if any(run.paths == [folder] and run.collection == collection for run in self._runs):
            return  # already waiting: that run will see this change too
        gone = [d.path for d in self._known_under(folder, collection) if not d.path.exists()]
        self._runs.append(_Run([folder], collection, removed_first=gone))
        self._next_run()

    @Slot()
    def resume_unfinished(self) -> None:
        """Queue the files of runs a Quit or a crash cut short."""
        try:
            unfinished = self._opened().unfinished()
        except Exception as error:
            self.failed.emit(str(as_user_error(error, "resuming the indexing cut short")))
            return
        by_collection: dict[str, list[Path]] = {}
        for collection, path in unfinished:
            by_collection.setdefault(collection, []).append(path)
        for collection, paths in by_collection.items():
            log.info("resuming the indexing of %d files into %s", len(paths), collection)
            self.index(paths, collection, False)
        if not unfinished:
            self.refresh()

    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        """Pause the run between two steps, or go on."""
        self._paused = paused
        if not paused:
            QTimer.singleShot(0, self._step)

    @Slot(object, object)
    def remove(self, path: Path | None, collection: str | None) -> None:
        """Forget a document, a folder's documents or a collection (after the running run)."""
        self._removals.append((path, collection))
        if self._current is None:
            self._do_removals()

    @Slot(int, str, str, int)
    def search(self, ticket: int, query: str, collection: str, k: int) -> None:
        """Find the passages that answer ``query``; ``found`` or ``search_failed`` follows."""
        try:
            index = self._opened()
            if not any(c.name == collection for c in index.collections()):
                self.found.emit(ticket, [])
                return
            was_loaded = index.embedder.is_loaded
            hits = index.search(query, collection, k)
        except Exception as error:  # the chat waiting on this answer must hear back, whatever happened
            self.search_failed.emit(ticket, str(as_user_error(error, "searching your documents")))
            return
        if not was_loaded:
            self.embedder_loaded.emit(True)
        self.found.emit(ticket, hits)

    @Slot(float)
    def release_if_idle(self, idle_s: float) -> None:
        """Give the embeddings model's memory back when it has not been used for ``idle_s``."""
        index = self._index
        if index is None or self._current is not None or not index.embedder.is_loaded:
            return
        if index.embedder.idle_seconds >= idle_s:
            try:
                index.embedder.unload()
            except Exception as error:
                log.warning("releasing the embeddings model failed: %s", error, exc_info=error)
                return
            log.info("released the embeddings model after %.0f s unused", idle_s)
            self.embedder_loaded.emit(False)

    @Slot()
    def close(self) -> None:
        """End the run where it is (its files stay queued for the next start) and close the index."""
        try:
            if self._current is not None:
                self._current.close()
            if self._index is not None:
                self._index.close()
        except Exception as error:  # quitting goes on: what was written is on disk already
            log.warning("closing the document index failed: %s", error, exc_info=error)
        finally:
            self._current = None
            self._index = None

    # -- the running run ------------------------------------------------------------------
    def _next_run(self) -> None:
        if self._current is not None:
            return
        if not self._runs:
            self._set_busy(False)
            return
        self._set_busy(True)
        run = self._runs.popleft()
        self.cancel.clear()
        try:
            index = self._opened()
            for path in run.removed_first:
                index.remove(path=path, collection=run.collection)
            self._current = index.index_files(run.paths, run.collection, cancel=self.cancel, force=run.force)
        except Exception as error:
            self.failed.emit(str(as_user_error(error, "starting to index")))
            QTimer.singleShot(0, self._after_run)
            return
        if not index.embedder.is_loaded:
            self.embedder_loaded.emit(True)  # it loads with the first batch
        QTimer.singleShot(0, self._step)

    @Slot()
    def _step(self) -> None:
        if self._current is None or (self._paused and not self.cancel.is_set()):
            return
        try:
            progress = next(self._current)
            if progress.summary is not None and progress.summary.cancelled:
                # The user's Cancel: what was left is not resumed later.
                self._opened().drop_unfinished(progress.summary.collection)
        except StopIteration:
            self._current = None
        except Exception as error:  # the run ends, said in one line; the next run and searches go on
            self._abandon_run()
            self.failed.emit(str(as_user_error(error, "indexing")))
        else:
            self.progress.emit(progress)
            if progress.summary is not None:
                self.run_finished.emit(progress.summary)
            QTimer.singleShot(0, self._step)
            return
        self._after_run()

    def _abandon_run(self) -> None:
        run, self._current = self._current, None
        if run is not None:
            try:
                run.close()
            except Exception as error:
                log.warning("closing a failed run: %s", error, exc_info=error)

    @Slot()
    def _after_run(self) -> None:
        self._do_removals()
        self.refresh()
        self._next_run()

    def _set_busy(self, busy: bool) -> None:
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    def _do_removals(self) -> None:
        while self._removals:
            path, collection = self._removals.popleft()
            try:
                self._opened().remove(path=path, collection=collection)
            except Exception as error:
                self.failed.emit(str(as_user_error(error, "removing documents")))
        self.refresh()

    def _known_under(self, folder: Path, collection: str) -> list[DocumentInfo]:
        try:
            documents = self._opened().documents(collection)
        except Exception:  # refresh() reports the catalog's trouble; a sync just finds nothing
            return []
        return [d for d in documents if d.path.is_relative_to(folder)]
