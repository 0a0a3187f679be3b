"""What the main window does with documents: the panel, drops on the window, sources under replies.

``DocumentActions`` is a mixin of ``MainWindow`` (as ``ConversationActions`` is): its drag
and drop handlers are the window's.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl, Slot
from PySide6.QtGui import QDragEnterEvent, QDragLeaveEvent, QDropEvent
from PySide6.QtWidgets import QDockWidget

from reflexia.core.engine.values import GenerationResult
from reflexia.services.chat_session import ChatOptions, ChatSession
from reflexia.services.documents import DocumentsService
from reflexia.services.watched_folders import FolderWatcher
from reflexia.ui.banner import Banner
from reflexia.ui.chat_view import ChatView
from reflexia.ui.documents_panel import DocumentsPanel
from reflexia.ui.drop_overlay import DropOverlay
from reflexia.ui.markup import markup
from reflexia.ui.menus import DockSwitch, WindowActions

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMainWindow

    _Window = QMainWindow
else:
    _Window = object


class DocumentActions(_Window):
    """The documents commands of the main window (GUI thread only)."""

    _chat: ChatSession
    chat_view: ChatView
    banner: Banner
    menu_actions: WindowActions
    dock_switches: list[DockSwitch]

    def setup_documents(self, documents: DocumentsService | None, watcher: FolderWatcher | None) -> None:
        """Add the documents panel and accept drops; without a documents service, neither."""
        self._documents = documents
        self.documents_panel: DocumentsPanel | None = None
        self.documents_dock: QDockWidget | None = None
        actions = self.menu_actions
        if documents is None or watcher is None:
            actions.show_documents.setEnabled(False)
            actions.add_documents.setEnabled(False)
            return
        panel = self.documents_panel = DocumentsPanel(documents, watcher)
        panel.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        dock = self.documents_dock = QDockWidget("Documents", self)
        dock.setObjectName("documentsDock")
        dock.setWidget(panel)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetClosable | QDockWidget.DockWidgetFeature.DockWidgetMovable
        )
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        dock.hide()
        self.dock_switches.append(DockSwitch(actions.show_documents, dock))
        actions.add_documents.triggered.connect(panel.choose_files)
        panel.use_documents_toggled.connect(self.set_documents_on)
        documents.failed.connect(self._on_documents_failed)
        watcher.failed.connect(self._on_documents_failed)
        self._chat.options_changed.connect(self.sync_documents_toggle)
        self.drop_overlay = DropOverlay(self.chat_view)
        self.setAcceptDrops(True)
        self.sync_documents_toggle()

    @Slot(bool)
    def set_documents_on(self, on: bool) -> None:
        """Answer this chat's next messages from the chosen collection, or not."""
        if self._documents is not None:
            self._chat.set_documents(on, self._documents.collection)

    @Slot(object)
    def sync_documents_toggle(self, _options: ChatOptions | None = None) -> None:
        """Show the chat's documents switch as it is (its role, a new chat or an opened one sets it)."""
        panel = self.documents_panel
        if panel is not None:
            panel.use_documents.blockSignals(True)
            panel.use_documents.setChecked(self._chat.documents_on)
            panel.use_documents.blockSignals(False)

    def add_documents(self, paths: list[Path]) -> None:
        """Index files and folders into the current collection, showing the panel."""
        if self._documents is None or self.documents_dock is None or not paths:
            return
        self.documents_dock.show()
        self._documents.add(paths)

    def show_reply_sources(self, result: GenerationResult) -> None:
        """Put the sources of the reply that just ended under it."""
        chat = self._chat
        if chat.reply_sources is None and not chat.search_problem:
            return
        bubbles = self.chat_view.bubbles
        if not bubbles or bubbles[-1].role != "assistant" or not result.text:
            return
        note = f"Your documents were not searched: {chat.search_problem}" if chat.search_problem else ""
        bubbles[-1].set_sources(chat.used_sources(result), note)

    @Slot(str)
    def _on_documents_failed(self, message: str) -> None:
        self.banner.show_message(markup("<b>Documents:</b> {}", message), "error")

    # -- drag and drop --------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        """Accept files and folders from the file manager, and say where they will go."""
        if self._documents is not None and _local_paths(event.mimeData().urls()):
            event.acceptProposedAction()
            self.drop_overlay.show_for(self._documents.collection)
        else:
            event.ignore()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:  # noqa: N802 (Qt override)
        """The drag left the window."""
        if self._documents is not None:
            self.drop_overlay.hide()
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        """Index what was dropped."""
        paths = _local_paths(event.mimeData().urls())
        if self._documents is not None:
            self.drop_overlay.hide()
        if paths:
            event.acceptProposedAction()
            self.add_documents(paths)


def _local_paths(urls: list[QUrl]) -> list[Path]:
    return [Path(url.toLocalFile()) for url in urls if isinstance(url, QUrl) and url.isLocalFile()]
