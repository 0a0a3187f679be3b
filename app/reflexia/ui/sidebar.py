"""The conversations sidebar: search, resume, rename, export and delete (with undo in the window)."""

from __future__ import annotations

import re
from datetime import datetime

from PySide6.QtCore import QPoint, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from reflexia.core.errors import ReflexiaError
from reflexia.services.conversation_history import ConversationHistory
from reflexia.ui.markup import Markup, join_markup, markup

SEARCH_DELAY_MS = 200  # search as the user types, once they pause


def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%d %b %H:%M")


def _highlighted(snippet: str) -> Markup:
    """A search snippet with its matches (between the store's STX and ETX marks) in bold, all escaped."""
    pieces = re.split("[\x02\x03]", snippet)
    return join_markup("", [markup("<b>{}</b>" if i % 2 else "{}", p) for i, p in enumerate(pieces)])


class ConversationSidebar(QWidget):
    """Lists the conversations (or the search hits) of a history service.

    Signals:
        open_requested(str): the user picked a conversation to continue.
        export_requested(str, str): export this conversation as "md" or "json".
        deleted(str, str): a conversation was deleted (id, title): the window offers undo.
    """

    open_requested = Signal(str)
    export_requested = Signal(str, str)
    deleted = Signal(str, str)

    def __init__(self, history: ConversationHistory | None, problem: str = "") -> None:
        super().__init__()
        self.setObjectName("sidebar")
        self.setMinimumWidth(220)
        self._history = history
        self.search_box = QLineEdit()
        self.search_box.setObjectName("sidebarSearch")
        self.search_box.setPlaceholderText("Search conversations")
        self.search_box.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setObjectName("conversationList")
        self.list.setWordWrap(True)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.note = QLabel(problem)
        self.note.setObjectName("sidebarNote")
        self.note.setWordWrap(True)
        self.note.setVisible(bool(problem))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.setSpacing(8)
        layout.addWidget(self.search_box)
        layout.addWidget(self.note)
        layout.addWidget(self.list, 1)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self.refresh)
        self.search_box.textChanged.connect(self._on_search_text)
        self.list.itemActivated.connect(self._on_activated)
        self.list.itemClicked.connect(self._on_activated)
        self.list.customContextMenuRequested.connect(self._on_context_menu)
        if history is None:
            self.search_box.setEnabled(False)
        else:
            history.conversations_changed.connect(self.refresh)
        self.refresh()

    def focus_search(self) -> None:
        """Put the cursor in the search box (Cmd/Ctrl+F)."""
        self.search_box.setFocus()
        self.search_box.selectAll()

    @Slot(str)
    def _on_search_text(self, _text: str) -> None:
        self._search_timer.start()

    @Slot()
    def refresh(self) -> None:
        """List the conversations again, or the hits of the search in the box."""
        self.list.clear()
        if self._history is None:
            return
        query = self.search_box.text().strip()
        try:
            if query:
                for hit in self._history.search(query):
                    self._add(hit.conversation_id, hit.title or "(untitled)", _highlighted(hit.snippet))
                if self.list.count() == 0:
                    self._add("", "No conversation mentions that", Markup())
            else:
                for summary in self._history.conversations():
                    detail = markup("{} · {} messages", _when(summary.updated_at), summary.message_count)
                    self._add(summary.id, summary.title or "(untitled)", detail)
        except ReflexiaError as error:
            self.note.setText(str(error))
            self.note.show()

    def _add(self, conversation_id: str, title: str, detail: Markup) -> None:
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, conversation_id)
        item.setData(Qt.ItemDataRole.UserRole + 1, title)
        item.setText(title)
        item.setToolTip(markup("{}<br><small>{}</small>", title, detail) if detail else markup("{}", title))
        label = QLabel(markup("<b>{}</b><br><span>{}</span>", title, detail))
        label.setObjectName("conversationItem")
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setContentsMargins(6, 4, 6, 4)
        item.setSizeHint(label.sizeHint())
        item.setText("")
        self.list.addItem(item)
        self.list.setItemWidget(item, label)
        if not conversation_id:
            item.setFlags(Qt.ItemFlag.NoItemFlags)

    def select(self, conversation_id: str) -> None:
        """Highlight the conversation in the window."""
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == conversation_id:
                self.list.setCurrentItem(item)
                return
        self.list.clearSelection()

    @Slot(QListWidgetItem)
    def _on_activated(self, item: QListWidgetItem) -> None:
        conversation_id = item.data(Qt.ItemDataRole.UserRole)
        if conversation_id:
            self.open_requested.emit(str(conversation_id))

    @Slot(QPoint)
    def _on_context_menu(self, where: QPoint) -> None:
        item = self.list.itemAt(where)
        if item is None or not item.data(Qt.ItemDataRole.UserRole) or self._history is None:
            return
        conversation_id = str(item.data(Qt.ItemDataRole.UserRole))
        title = str(item.data(Qt.ItemDataRole.UserRole + 1))
        menu = QMenu(self)
        rename = menu.addAction("Rename…")
        markdown = menu.addAction("Export as Markdown…")
        as_json = menu.addAction("Export as JSON…")
        menu.addSeparator()
        delete = menu.addAction("Delete")
        chosen = menu.exec(self.list.viewport().mapToGlobal(where))
        if chosen is rename:
            self.rename(conversation_id, title)
        elif chosen is markdown:
            self.export_requested.emit(conversation_id, "md")
        elif chosen is as_json:
            self.export_requested.emit(conversation_id, "json")
        elif chosen is delete:
            self.delete(conversation_id, title)

    def rename(self, conversation_id: str, title: str, new_title: str | None = None) -> None:
        """Ask for a new title (or use ``new_title``) and save it."""
        if self._history is None:
            return
        if new_title is None:
            new_title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=title)
            if not ok:
                return
        self._history.rename(conversation_id, new_title)

    def delete(self, conversation_id: str, title: str) -> None:
        """Delete a conversation; the window offers to undo it."""
        if self._history is None:
            return
        self._history.delete(conversation_id)
        self.deleted.emit(conversation_id, title)
