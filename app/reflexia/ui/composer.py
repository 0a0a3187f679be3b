"""The message input: Enter sends, Shift+Enter starts a new line."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QPlainTextEdit, QPushButton, QSizePolicy, QWidget

MAX_VISIBLE_LINES = 8


class MessageInput(QPlainTextEdit):
    """Grows with its text up to a few lines.

    Signals:
        submitted(): Enter was pressed without Shift.
    """

    submitted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageInput")
        self.setPlaceholderText("Message Reflexia…  (Enter to send, Shift+Enter for a new line)")
        self.setTabChangesFocus(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().contentsChanged.connect(self._fit_height)
        self._fit_height()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        """Send on Enter; insert a newline on Shift+Enter."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not (
            event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        ):
            self.submitted.emit()
            return
        super().keyPressEvent(event)

    def _fit_height(self) -> None:
        """Tall enough for the text, between two and MAX_VISIBLE_LINES lines."""
        lines = max(2, min(MAX_VISIBLE_LINES, self.document().lineCount()))
        margins = self.contentsMargins()
        frame = int(self.document().documentMargin() * 2) + margins.top() + margins.bottom() + 14
        self.setFixedHeight(lines * self.fontMetrics().lineSpacing() + frame)


class Composer(QWidget):
    """Input box with the Send/Stop button beside it.

    Signals:
        send_requested(str): the user sent this text.
        stop_requested(): the user pressed Stop.
    """

    send_requested = Signal(str)
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.input = MessageInput()
        self.button = QPushButton("Send")
        self.button.setObjectName("sendButton")
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(24, 8, 24, 16)
        layout.setSpacing(10)
        layout.addWidget(self.input, 1)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignBottom)
        self._replying = False
        self.input.submitted.connect(self._submit)
        self.button.clicked.connect(self._on_button)

    def set_replying(self, replying: bool) -> None:
        """Switch the button between Send and Stop."""
        self._replying = replying
        self.button.setText("Stop" if replying else "Send")
        self.button.setObjectName("stopButton" if replying else "sendButton")
        self.button.style().unpolish(self.button)
        self.button.style().polish(self.button)

    def take_text(self) -> str:
        """Return and clear the typed text."""
        text = self.input.toPlainText()
        self.input.clear()
        return text

    def give_back(self, text: str) -> None:
        """Put a prompt back into the box (its reply failed) unless the user typed anew."""
        if text and not self.input.toPlainText():
            self.input.setPlainText(text)

    def _submit(self) -> None:
        if not self._replying and self.input.toPlainText().strip():
            self.send_requested.emit(self.take_text())

    def _on_button(self) -> None:
        if self._replying:
            self.stop_requested.emit()
        else:
            self._submit()
