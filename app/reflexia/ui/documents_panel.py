"""The documents panel: collections, their documents with each one's status, indexing progress.

Files and folders are added with the buttons or dropped on the window. While a run goes on,
a progress bar shows files, chunks, rate and time left, with Pause and Cancel; each file's
outcome (indexed, unchanged, failed with the reason) appears in the list as it comes.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from reflexia.core.rag.values import DEFAULT_COLLECTION, DocumentOutcome, IndexProgress, IndexSummary
from reflexia.core.units import human_size
from reflexia.services.documents import DocumentsService
from reflexia.services.documents_worker import DocumentsView
from reflexia.services.watched_folders import FolderWatcher
from reflexia.ui.markup import join_markup, markup, plain_label, set_label_text, tooltip_text

_NEW_COLLECTION = "New collection…"
_PATH_ROLE = Qt.ItemDataRole.UserRole + 1


def progress_text(progress: IndexProgress) -> str:
    """One line: files, chunks, rate and time left."""
    parts = [f"{progress.files_done} of {progress.files_total} files", f"{progress.chunks_done} chunks"]
    if progress.chunks_per_s > 0:
        parts.append(f"{progress.chunks_per_s:.0f} chunks/s")
    if progress.seconds_left is not None and progress.files_done < progress.files_total:
        left = progress.seconds_left
        parts.append(f"about {left:.0f} s left" if left < 90 else f"about {left / 60:.0f} min left")
    return " · ".join(parts)


def summary_text(summary: IndexSummary) -> str:
    """What a finished run did, in one line."""
    parts = [f"{len(summary.indexed)} indexed", f"{len(summary.skipped)} unchanged"]
    if summary.failed:
        parts.append(f"{len(summary.failed)} failed")
    head = "Cancelled" if summary.cancelled else "Done"
    return f"{head}: {', '.join(parts)} · {summary.chunks} chunks in {summary.seconds:.1f} s"


class DocumentsPanel(QWidget):
    """Lists and manages the document collections (GUI thread).

    Signals:
        use_documents_toggled(bool): "Answer from these documents" was switched.
    """

    use_documents_toggled = Signal(bool)

    def __init__(
        self, documents: DocumentsService, watcher: FolderWatcher, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("documentsPanel")
        self._documents = documents
        self._watcher = watcher
        self._outcomes: dict[Path, DocumentOutcome] = {}  # the latest run's, by file
        self.use_documents = QCheckBox("Answer from these documents in this chat")
        self.use_documents.toggled.connect(self.use_documents_toggled)
        self.collection = QComboBox()
        self.collection.setObjectName("collectionPicker")
        self.collection.addItem(DEFAULT_COLLECTION)
        self.collection.activated.connect(self._on_collection_chosen)
        self.add_files_button = QPushButton("Add files…")
        self.add_folder_button = QPushButton("Add folder…")
        self.watch_button = QPushButton("Watch folder…")
        self.add_files_button.clicked.connect(self.choose_files)
        self.add_folder_button.clicked.connect(self.choose_folder)
        self.watch_button.clicked.connect(self.choose_watched_folder)

        self.progress = QProgressBar()
        self.progress.setObjectName("indexingProgress")
        self.progress.setTextVisible(False)  # the line below says it in words
        self.progress_label = QLabel()
        self.progress_label.setObjectName("indexingStatus")
        self.progress_label.setWordWrap(True)
        self.current_label = plain_label()  # a file's name, shown as it is
        self.current_label.setObjectName("indexingCurrent")
        self.pause_button = QPushButton("Pause")
        self.cancel_button = QPushButton("Cancel")
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.cancel_button.clicked.connect(documents.cancel)

        self.tree = QTreeWidget()
        self.tree.setObjectName("documentsList")
        self.tree.setHeaderLabels(["Document", "Status", "Chunks"])
        self.tree.setRootIsDecorated(False)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # report-2024-…-final.pdf
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.resizeSection(1, 170)
        self.tree.itemSelectionChanged.connect(self._on_selection)
        self.remove_button = QPushButton("Remove")
        self.reindex_button = QPushButton("Re-index")
        self.remove_button.clicked.connect(self._on_remove)
        self.reindex_button.clicked.connect(self._on_reindex)
        self.watched = QListWidget()
        self.watched.setObjectName("watchedFolders")
        self.watched.setMaximumHeight(70)
        self.unwatch_button = QPushButton("Stop watching")
        self.unwatch_button.clicked.connect(self._on_unwatch)

        column = QVBoxLayout(self)
        column.setContentsMargins(10, 10, 10, 10)
        column.addWidget(self.use_documents)
        row = QHBoxLayout()
        row.addWidget(QLabel("Collection"))
        row.addWidget(self.collection, 1)
        column.addLayout(row)
        row = QHBoxLayout()
        for button in (self.add_files_button, self.add_folder_button, self.watch_button):
            row.addWidget(button)
        column.addLayout(row)
        self.progress_box = QWidget()
        box = QVBoxLayout(self.progress_box)
        box.setContentsMargins(0, 4, 0, 4)
        box.addWidget(self.progress)
        box.addWidget(self.progress_label)
        box.addWidget(self.current_label)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.pause_button)
        row.addWidget(self.cancel_button)
        box.addLayout(row)
        column.addWidget(self.progress_box)
        self.progress_box.hide()
        self.last_run = QLabel()
        self.last_run.setObjectName("lastRun")
        self.last_run.setWordWrap(True)
        self.last_run.hide()
        column.addWidget(self.last_run)
        column.addWidget(self.tree, 1)
        self.failures = QLabel()
        self.failures.setObjectName("indexingFailures")
        self.failures.setWordWrap(True)
        self.failures.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.failures.hide()
        column.addWidget(self.failures)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.reindex_button)
        row.addWidget(self.remove_button)
        column.addLayout(row)
        column.addWidget(QLabel("Watched folders"))
        column.addWidget(self.watched)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.unwatch_button)
        column.addLayout(row)
        self._on_selection()
        self._on_watched_changed()
        self.setMinimumWidth(400)

        documents.progress.connect(self._on_progress)
        documents.run_finished.connect(self._on_run_finished)
        documents.busy_changed.connect(self._on_busy_changed)
        documents.paused_changed.connect(self._on_paused_changed)
        documents.view_changed.connect(self._on_view_changed)
        watcher.folders_changed.connect(self._on_watched_changed)

    # -- adding -----------------------------------------------------------
    @Slot()
    def choose_files(self) -> None:
        """Ask for files to add."""
        names, _ = QFileDialog.getOpenFileNames(self, "Add documents", str(Path.home()))
        if names:
            self._documents.add([Path(n) for n in names])

    @Slot()
    def choose_folder(self) -> None:
        """Ask for a folder to add (with its subfolders)."""
        name = QFileDialog.getExistingDirectory(self, "Add a folder of documents", str(Path.home()))
        if name:
            self._documents.add([Path(name)])

    @Slot()
    def choose_watched_folder(self) -> None:
        """Ask for a folder to index now and keep up to date."""
        name = QFileDialog.getExistingDirectory(self, "Watch a folder of documents", str(Path.home()))
        if name:
            self._watcher.watch(Path(name), self._documents.collection)

    @Slot(int)
    def _on_collection_chosen(self, index: int) -> None:
        name = self.collection.itemText(index)
        if name == _NEW_COLLECTION:
            name, ok = QInputDialog.getText(self, "New collection", "Name of the new collection:")
            name = name.strip()
            if not ok or not name:
                self.collection.setCurrentText(self._documents.collection)
                return
            if self.collection.findText(name) < 0:
                self.collection.insertItem(self.collection.count() - 1, name)
            self.collection.setCurrentText(name)
        self.set_collection(name)

    def set_collection(self, name: str) -> None:
        """Show ``name``'s documents; new documents go there and the chat searches it."""
        self._documents.collection = name
        self._on_view_changed(self._documents.view)

    # -- the run ----------------------------------------------------------
    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        self.progress_box.setVisible(busy)
        if busy:
            self._outcomes.clear()
            self.failures.hide()
            self.progress.setRange(0, 0)
            self.progress_label.setText("Starting…")
            self.current_label.clear()
            self.last_run.hide()

    @Slot(object)
    def _on_progress(self, progress: IndexProgress) -> None:
        self.progress.setRange(0, max(1, progress.files_total))
        self.progress.setValue(progress.files_done)
        self.progress_label.setText(progress_text(progress))
        set_label_text(self.current_label, f"Reading {progress.current.name}" if progress.current else "")
        if progress.outcome is not None:
            self._outcomes[progress.outcome.path] = progress.outcome
            self._show_outcome(progress.outcome)

    @Slot(object)
    def _on_run_finished(self, summary: IndexSummary) -> None:
        self.last_run.setText(summary_text(summary))
        self.last_run.show()

    @Slot(bool)
    def _on_paused_changed(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        if paused:
            self.current_label.setText("Paused")

    @Slot()
    def _on_pause_clicked(self) -> None:
        self._documents.set_paused(not self._documents.paused)

    # -- the list ---------------------------------------------------------
    @Slot(object)
    def _on_view_changed(self, view: DocumentsView) -> None:
        names = [c.name for c in view.collections]
        current = self._documents.collection
        for name in [DEFAULT_COLLECTION, *names, current]:
            if self.collection.findText(name) < 0:
                self.collection.addItem(name)
        if self.collection.findText(_NEW_COLLECTION) >= 0:
            self.collection.removeItem(self.collection.findText(_NEW_COLLECTION))
        self.collection.addItem(_NEW_COLLECTION)
        self.collection.setCurrentText(current)
        self.tree.clear()
        for document in view.in_collection(current):
            item = self._item(document.path)
            item.setText(1, "indexed")
            item.setText(2, str(document.chunks))
            pages = f" · {document.pages} pages" if document.pages else ""
            item.setToolTip(0, f"{document.path}\n{human_size(document.size)}{pages}")
        for outcome in self._outcomes.values():
            self._show_outcome(outcome)
        self._on_selection()

    def _listed(self, path: Path) -> QTreeWidgetItem | None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item is not None and item.data(0, _PATH_ROLE) == str(path):
                return item
        return None

    def _item(self, path: Path) -> QTreeWidgetItem:
        if (item := self._listed(path)) is not None:
            return item
        item = QTreeWidgetItem([path.name, "", ""])
        item.setData(0, _PATH_ROLE, str(path))
        self.tree.addTopLevelItem(item)
        return item

    def _show_outcome(self, outcome: DocumentOutcome) -> None:
        item = self._item(outcome.path)
        if outcome.status == "failed":
            item.setText(1, "failed")
            item.setToolTip(0, tooltip_text(f"{outcome.path}\n{outcome.error}"))
            item.setToolTip(1, tooltip_text(outcome.error or ""))
            item.setForeground(1, QBrush(QColor("#c0392b")))
            self._show_failures()
        else:
            item.setText(1, outcome.status)
            if outcome.chunks:
                item.setText(2, str(outcome.chunks))

    def _show_failures(self) -> None:
        failed = [o for o in self._outcomes.values() if o.status == "failed"]
        lines = [markup("<b>{}</b>: {}", o.path.name, o.error or "") for o in failed[:5]]
        if len(failed) > 5:
            lines.append(markup("and {} more (hover over a file for its reason)", len(failed) - 5))
        set_label_text(self.failures, join_markup("<br>", [markup("Could not index:"), *lines]))
        self.failures.setVisible(bool(failed))

    def status_of(self, path: Path) -> str:
        """The status shown for ``path`` ("" when it is not listed)."""
        item = self._listed(path)
        return item.text(1) if item is not None else ""

    def _selected_paths(self) -> list[Path]:
        return [Path(str(item.data(0, _PATH_ROLE))) for item in self.tree.selectedItems()]

    @Slot()
    def _on_selection(self) -> None:
        chosen = bool(self._selected_paths())
        self.remove_button.setEnabled(chosen)
        self.reindex_button.setEnabled(chosen)

    @Slot()
    def _on_remove(self) -> None:
        for path in self._selected_paths():
            outcome = self._outcomes.pop(path, None)
            if outcome is not None and outcome.status == "failed":  # never indexed: only listed
                self._on_view_changed(self._documents.view)
                self._show_failures()
            else:
                self._documents.remove(path, self._documents.collection)

    @Slot()
    def _on_reindex(self) -> None:
        paths = self._selected_paths()
        if paths:
            self._documents.add(paths, force=True)

    @Slot()
    def _on_watched_changed(self) -> None:
        self.watched.clear()
        for watched in self._watcher.folders:
            self.watched.addItem(f"{watched.path}  →  {watched.collection}")
        self.unwatch_button.setEnabled(bool(self._watcher.folders))

    @Slot()
    def _on_unwatch(self) -> None:
        row = self.watched.currentRow()
        if 0 <= row < len(self._watcher.folders):
            self._watcher.unwatch(self._watcher.folders[row].path)
