"""The sidebar's rows as Qt item models, changed on the GUI thread only.

A stored message changes one row (moved to the top, its figures updated) instead of the list
being built again: with thousands of conversations a rebuild per message is what stalled the
window. Rows are plain text; a search snippet keeps its match marks (STX/ETX) for the view to
show in bold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

from reflexia.core.history.records import ConversationSummary, SearchHit

ID_ROLE: Final = Qt.ItemDataRole.UserRole + 1
TITLE_ROLE: Final = Qt.ItemDataRole.UserRole + 2
DETAIL_ROLE: Final = Qt.ItemDataRole.UserRole + 3  # one line; a snippet keeps its STX/ETX marks
NO_HITS: Final = "No conversation mentions that"

_Index = QModelIndex | QPersistentModelIndex


def _when(moment: datetime) -> str:
    return moment.astimezone().strftime("%d %b %H:%M")


@dataclass(frozen=True)
class SidebarRow:
    """One row: a conversation to open (no id: a note, such as no hits)."""

    conversation_id: str
    title: str
    detail: str


def _row(summary: ConversationSummary) -> SidebarRow:
    detail = f"{_when(summary.updated_at)} · {summary.message_count} messages"
    return SidebarRow(summary.id, summary.title or "(untitled)", detail)


class SidebarRows(QAbstractListModel):
    """Rows of the sidebar, read by its view through the roles above."""

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[SidebarRow] = []

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 (Qt's API)
        """How many rows (a list has no children)."""
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        """The row's title (display), id, title or detail line."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, TITLE_ROLE):
            return row.title
        if role == ID_ROLE:
            return row.conversation_id
        if role == DETAIL_ROLE:
            return row.detail
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        """A note (no conversation) cannot be picked."""
        if index.isValid() and self._rows[index.row()].conversation_id:
            return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return Qt.ItemFlag.NoItemFlags

    def rows(self) -> list[SidebarRow]:
        """The rows, top first."""
        return list(self._rows)

    def row_of(self, conversation_id: str) -> int:
        """The row of a conversation; -1 if it is not listed."""
        for number, row in enumerate(self._rows):
            if row.conversation_id == conversation_id:
                return number
        return -1


class ConversationListModel(SidebarRows):
    """Every conversation, the most recently updated first; changed one row at a time."""

    def __init__(self) -> None:
        super().__init__()
        self._updated: list[datetime] = []  # beside each row, what orders it

    def reset(self, summaries: list[ConversationSummary]) -> None:
        """The whole list (once, when the store is opened)."""
        self.beginResetModel()
        self._rows = [_row(s) for s in summaries]
        self._updated = [s.updated_at for s in summaries]
        self.endResetModel()

    def put(self, summary: ConversationSummary) -> None:
        """A conversation as it is now: its row changes, moving up if it was updated."""
        row = _row(summary)
        current = self.row_of(summary.id)
        others = [u for i, u in enumerate(self._updated) if i != current]
        target = next((i for i, u in enumerate(others) if u <= summary.updated_at), len(others))
        if current < 0:
            self.beginInsertRows(QModelIndex(), target, target)
            self._rows.insert(target, row)
            self._updated.insert(target, summary.updated_at)
            self.endInsertRows()
            return
        if target != current:  # Qt's destination is counted before the row leaves its place
            self.beginMoveRows(QModelIndex(), current, current, QModelIndex(), target + (target > current))
            self._rows.insert(target, self._rows.pop(current))
            self._updated.insert(target, self._updated.pop(current))
            self.endMoveRows()
        self._rows[target] = row
        self._updated[target] = summary.updated_at
        self.dataChanged.emit(self.index(target), self.index(target))

    def remove(self, conversation_id: str) -> None:
        """Take a deleted conversation's row out."""
        current = self.row_of(conversation_id)
        if current >= 0:
            self.beginRemoveRows(QModelIndex(), current, current)
            del self._rows[current]
            del self._updated[current]
            self.endRemoveRows()


class SearchHitsModel(SidebarRows):
    """The conversations a search found, best first, each with its snippet."""

    def show(self, hits: list[SearchHit]) -> None:
        """The hits of a new search (a note when there are none)."""
        self.beginResetModel()
        self._rows = [SidebarRow(h.conversation_id, h.title or "(untitled)", h.snippet) for h in hits]
        if not self._rows:
            self._rows = [SidebarRow("", NO_HITS, "")]
        self.endResetModel()

    def forget(self, conversation_id: str) -> None:
        """Take a deleted conversation out of the hits."""
        current = self.row_of(conversation_id)
        if current >= 0:
            self.beginRemoveRows(QModelIndex(), current, current)
            del self._rows[current]
            self.endRemoveRows()
