"""The conversations sidebar: search, resume, rename, export and delete (with undo in the window).

The list is a view of the history's models (a row per conversation, changed in place as
messages are stored) and its delegate paints each row as plain text: a title can never be
markup, and thousands of rows cost nothing until they are scrolled into view.
"""

from __future__ import annotations

import re

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSize,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QFont, QFontMetrics, QHelpEvent, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from reflexia.services.conversation_history import ConversationHistory
from reflexia.services.conversation_list import DETAIL_ROLE, ID_ROLE, TITLE_ROLE
from reflexia.ui.markup import shown, tooltip_text

SEARCH_DELAY_MS = 200  # search as the user types, once they pause
_MARKS = re.compile("[\x02\x03]")
_PADDING = 6


class ConversationDelegate(QStyledItemDelegate):
    """Paints a row: the title in bold, then one line of detail whose search matches are bold."""

    def paint(
        self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        """Draw the row as text (never rich text), cut to the row's width."""
        item = QStyleOptionViewItem(option)
        self.initStyleOption(item, index)
        item.text = ""
        widget = item.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, item, painter, widget)
        selected = bool(item.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        rect = item.rect.adjusted(_PADDING, _PADDING - 2, -_PADDING, -(_PADDING - 2))
        font: QFont = item.font
        bold = QFont(font)
        bold.setBold(True)
        painter.save()
        painter.setPen(item.palette.color(role))
        painter.setFont(bold)
        title_metrics = QFontMetrics(bold)
        title = title_metrics.elidedText(
            shown(index.data(TITLE_ROLE) or ""), Qt.TextElideMode.ElideRight, rect.width()
        )
        painter.drawText(rect.x(), rect.y() + title_metrics.ascent(), title)
        y = rect.y() + title_metrics.height() + 2 + QFontMetrics(font).ascent()
        x, right = rect.x(), rect.x() + rect.width()
        for number, piece in enumerate(_MARKS.split(shown(index.data(DETAIL_ROLE) or ""))):
            face = bold if number % 2 else font
            metrics = QFontMetrics(face)
            text = metrics.elidedText(piece, Qt.TextElideMode.ElideRight, right - x)
            painter.setFont(face)
            painter.drawText(x, y, text)
            x += metrics.horizontalAdvance(text)
            if text != piece or x >= right:
                break
        painter.restore()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:  # noqa: N802
        """Two lines of text: every row is as tall as the others (the view need not measure them)."""
        height = QFontMetrics(option.font).height()
        return QSize(200, 2 * height + 2 + 2 * (_PADDING - 2))

    def helpEvent(  # noqa: N802 (Qt override)
        self,
        event: QHelpEvent,
        view: QAbstractItemView,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        """The whole title and detail as a tooltip, shown as written."""
        if not index.isValid():
            return False
        detail = _MARKS.sub("", str(index.data(DETAIL_ROLE) or ""))
        text = "\n".join(p for p in (str(index.data(TITLE_ROLE) or ""), detail) if p)
        QToolTip.showText(event.globalPos(), tooltip_text(text), view)
        return True


class ConversationSidebar(QWidget):
    """Lists the conversations (or the search hits) of a history service. GUI thread.

    Signals:
        open_requested(str): the user picked a conversation to continue.
        export_requested(str, str): export this conversation as "md" or "json".
        deleted(str, str): a conversation was deleted (id, title): the window offers undo.
    """

    open_requested = Signal(str)
    export_requested = Signal(str, str)
    deleted = Signal(str, str)

    def __init__(self, history: ConversationHistory) -> None:
        super().__init__()
        self.setObjectName("sidebar")
        self.setMinimumWidth(220)
        self._history = history
        self.search_box = QLineEdit()
        self.search_box.setObjectName("sidebarSearch")
        self.search_box.setPlaceholderText("Search conversations")
        self.search_box.setClearButtonEnabled(True)
        self.list = QListView()
        self.list.setObjectName("conversationList")
        self.list.setUniformItemSizes(True)
        self.list.setItemDelegate(ConversationDelegate(self.list))
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.setModel(history.conversations)
        self.note = QLabel()
        self.note.setObjectName("sidebarNote")
        self.note.setTextFormat(Qt.TextFormat.PlainText)
        self.note.setWordWrap(True)
        self.note.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.setSpacing(8)
        layout.addWidget(self.search_box)
        layout.addWidget(self.note)
        layout.addWidget(self.list, 1)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._search)
        self.search_box.textChanged.connect(self._on_search_text)
        self.list.activated.connect(self._on_activated)
        self.list.clicked.connect(self._on_activated)
        self.list.customContextMenuRequested.connect(self._on_context_menu)
        history.searched.connect(self._on_searched)
        history.unavailable.connect(self._on_unavailable)

    @property
    def model(self) -> QAbstractItemModel:
        """What the list shows now: the conversations, or the hits of the search in the box."""
        return self.list.model()

    def refresh(self) -> None:
        """List every conversation again, as the store has them now (from any process)."""
        self._history.relist()

    def focus_search(self) -> None:
        """Put the cursor in the search box (Cmd/Ctrl+F)."""
        self.search_box.setFocus()
        self.search_box.selectAll()

    @Slot(str)
    def _on_unavailable(self, problem: str) -> None:
        self.note.setText(problem)
        self.note.show()
        self.search_box.setEnabled(False)

    @Slot(str)
    def _on_search_text(self, text: str) -> None:
        if text.strip():
            self._search_timer.start()
        else:  # back to every conversation at once
            self._search_timer.stop()
            self.list.setModel(self._history.conversations)

    @Slot()
    def _search(self) -> None:
        query = self.search_box.text().strip()
        if query:
            self._history.search(query)  # answered on the history thread: see _on_searched

    @Slot()
    def _on_searched(self) -> None:
        if self.search_box.text().strip():
            self.list.setModel(self._history.hits)

    def select(self, conversation_id: str) -> None:
        """Highlight the conversation in the window."""
        model = self._history.conversations
        row = model.row_of(conversation_id)
        if row >= 0 and self.list.model() is model:
            self.list.setCurrentIndex(model.index(row))
        else:
            self.list.clearSelection()

    @Slot(QModelIndex)
    def _on_activated(self, index: QModelIndex) -> None:
        conversation_id = index.data(ID_ROLE)
        if conversation_id:
            self.open_requested.emit(str(conversation_id))

    @Slot(QPoint)
    def _on_context_menu(self, where: QPoint) -> None:
        index = self.list.indexAt(where)
        if not index.isValid() or not index.data(ID_ROLE):
            return
        conversation_id = str(index.data(ID_ROLE))
        title = str(index.data(TITLE_ROLE))
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
        if new_title is None:
            new_title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=title)
            if not ok:
                return
        self._history.rename(conversation_id, new_title)

    def delete(self, conversation_id: str, title: str) -> None:
        """Delete a conversation; the window offers to undo it."""
        self._history.delete(conversation_id)
        self.deleted.emit(conversation_id, title)
