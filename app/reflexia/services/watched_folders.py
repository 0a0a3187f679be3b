"""Watched folders: their new, changed and deleted files are indexed without the user asking.

Each watched folder is synced once at start (changes made while the app was closed), then
whenever the file system reports a change under it, after a short quiet spell so that a
copy of many files is one run. The folder tree is listed on a pool thread; the watcher
itself lives on the GUI thread, as ``QFileSystemWatcher`` requires.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot

from reflexia.core.config.settings import Settings
from reflexia.core.rag.loaders import document_kind
from reflexia.core.rag.watched import WatchedFolder, load_watched, save_watched
from reflexia.services.documents import DocumentsService
from reflexia.services.jobs import Job

log = logging.getLogger(__name__)

#: Changes are gathered this long before a folder is synced.
QUIET_MS = 1500
#: Files watched one by one (edits in place); beyond this, only folders (new, deleted, renamed files).
MAX_WATCHED_FILES = 4000


def list_tree(root: Path) -> tuple[list[str], list[str]]:
    """The folders and document files under ``root`` (hidden ones left out)."""
    folders: list[str] = []
    files: list[str] = []
    for folder, names, file_names in os.walk(root):
        names[:] = [n for n in names if not n.startswith(".")]
        folders.append(folder)
        files += [
            os.path.join(folder, f)
            for f in file_names
            if not f.startswith(".") and document_kind(Path(f)) is not None
        ]
    return folders, files[:MAX_WATCHED_FILES]


class FolderWatcher(QObject):
    """The watched folders of the document index. Lives on the GUI thread.

    Signals:
        folders_changed(): a folder was added to or removed from the watch list.
        failed(str): the list could not be saved.
    """

    folders_changed = Signal()
    failed = Signal(str)

    def __init__(self, documents: DocumentsService, index_folder: Path) -> None:
        super().__init__()
        self._documents = documents
        self._index_folder = index_folder
        self.folders: list[WatchedFolder] = []
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._on_changed)
        self._watcher.fileChanged.connect(self._on_changed)
        self._pending: set[Path] = set()
        self._quiet = QTimer(self)
        self._quiet.setSingleShot(True)
        self._quiet.setInterval(QUIET_MS)
        self._quiet.timeout.connect(self._sync_pending)
        self._jobs: list[Job] = []

    def start(self) -> None:
        """Load the watch list, sync each folder and watch it."""
        self.folders = load_watched(self._index_folder)
        for watched in self.folders:
            self._documents.sync_folder(watched.path, watched.collection)
            self._list(watched.path)
        self.folders_changed.emit()

    @Slot(object, object)
    def apply_settings(self, settings: Settings, keys: frozenset[str]) -> None:
        """A new vector store folder has its own watch list: stop watching the old one's, start its."""
        if "paths.vector_db_path" not in keys or settings.vector_db_dir() == self._index_folder:
            return
        watched = self._watcher.directories() + self._watcher.files()
        if watched:
            self._watcher.removePaths(watched)
        self._index_folder = settings.vector_db_dir()
        self.start()

    def watch(self, folder: Path, collection: str) -> None:
        """Watch ``folder`` for ``collection`` and index it now."""
        folder = folder.expanduser().absolute()
        self.folders = [w for w in self.folders if w.path != folder] + [WatchedFolder(folder, collection)]
        self._save()
        self._documents.sync_folder(folder, collection)
        self._list(folder)
        self.folders_changed.emit()

    def unwatch(self, folder: Path) -> None:
        """Stop watching ``folder``; its documents stay indexed."""
        self.folders = [w for w in self.folders if w.path != folder]
        self._save()
        stale = [
            p for p in self._watcher.directories() + self._watcher.files() if Path(p).is_relative_to(folder)
        ]
        if stale:
            self._watcher.removePaths(stale)
        self.folders_changed.emit()

    def _save(self) -> None:
        try:
            save_watched(self._index_folder, self.folders)
        except OSError as error:
            self.failed.emit(f"The watched folders could not be saved: {error}")

    def _list(self, folder: Path) -> None:
        job = Job("Listing a watched folder", list_tree, folder)
        job.returned.connect(self._on_listed)
        job.failed.connect(self._on_list_failed)
        job.finished.connect(self._on_job_finished)
        self._jobs.append(job)
        job.start()

    @Slot(object)
    def _on_list_failed(self, error: object) -> None:
        self.failed.emit(f"A watched folder could not be listed: {error}")

    @Slot(object)
    def _on_listed(self, tree: tuple[list[str], list[str]]) -> None:
        folders, files = tree
        known = set(self._watcher.directories()) | set(self._watcher.files())
        new = [p for p in folders + files if p not in known]
        if new:
            self._watcher.addPaths(new)

    @Slot()
    def _on_job_finished(self) -> None:
        self._jobs = [job for job in self._jobs if job is not self.sender()]

    @Slot(str)
    def _on_changed(self, path: str) -> None:
        changed = Path(path)
        for watched in self.folders:
            if changed.is_relative_to(watched.path):
                self._pending.add(watched.path)
        self._quiet.start()

    @Slot()
    def _sync_pending(self) -> None:
        pending, self._pending = self._pending, set()
        for watched in self.folders:
            if watched.path in pending:
                log.info("watched folder changed: %s", watched.path)
                self._documents.sync_folder(watched.path, watched.collection)
                self._list(watched.path)  # new subfolders and files are watched too
