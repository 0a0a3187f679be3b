"""What the window shows while files are dragged over it: where they will go."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel, QWidget


class DropOverlay(QLabel):
    """A translucent sheet over the window's centre, naming the collection the drop feeds."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self._sheet_of = parent
        self.setObjectName("dropOverlay")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWordWrap(True)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        parent.installEventFilter(self)
        self.hide()

    def show_for(self, collection: str) -> None:
        """Cover the parent, saying where the files will go."""
        self.setText(
            f"<div style='font-size:20px; font-weight:600'>Drop to add to “{collection}”</div>"
            "<div>Files and folders (with their subfolders): text, Markdown, PDF, Word, HTML, code</div>"
        )
        self.setGeometry(self._sheet_of.rect())
        self.raise_()
        self.show()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        """Follow the parent's size."""
        if event.type() == QEvent.Type.Resize and self.isVisible():
            self.setGeometry(self._sheet_of.rect())
        return False
