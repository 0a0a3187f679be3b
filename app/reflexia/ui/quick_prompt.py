"""The quick prompt: a small frameless window for one question, from the menubar or a shortcut.

It is a client ("quick") of the same request queue as the main window: while the window's
reply runs, the question waits its turn and says so, and the window's reply goes on. Its
conversation keeps its own KV cache, so a follow-up costs only the new words. The answer
streams as Markdown; Copy takes it, Esc closes, and "Continue in Reflexia" opens the
exchange in the main window as a conversation of the history.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCursor, QGuiApplication, QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from reflexia.core.engine.values import GenerationResult
from reflexia.services.chat_session import ChatSession, ReplyStarted
from reflexia.ui.code_block import flash_copied
from reflexia.ui.markup import plain_label, set_label_text
from reflexia.ui.message_bubble import MessageBubble

WIDTH = 560
_REPAINT_MS = 50


class QuickPrompt(QFrame):
    """One input line, the answer streaming under it, Copy and Continue in Reflexia.

    Signals:
        continue_requested(ChatSession): the user wants this exchange in the main window.
    """

    continue_requested = Signal(object)

    def __init__(self, session: ChatSession, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint)
        self.setObjectName("quickPrompt")
        self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint)
        self.setAttribute(Qt.WidgetAttribute.WA_MacAlwaysShowToolWindow)  # stays while another app is active
        self.setFixedWidth(WIDTH)
        self._session = session
        self.input = QLineEdit()
        self.input.setObjectName("quickInput")
        self.input.setPlaceholderText("Ask Reflexia…  (Enter asks, Esc closes)")
        self.input.returnPressed.connect(self.ask)
        self.status = plain_label()  # errors and model names are shown as they are
        self.status.setObjectName("quickStatus")
        self.status.hide()
        self.question = plain_label()  # the user's words, never markup
        self.question.setObjectName("quickQuestion")
        self.question.setWordWrap(True)
        self.question.hide()
        self.answer: MessageBubble | None = None
        self._answer_box = QWidget()
        self._answer_column = QVBoxLayout(self._answer_box)
        self._answer_column.setContentsMargins(0, 0, 0, 0)
        self._answer_column.addStretch(1)  # a short answer sits at the top, not spread out
        self.answer_area = QScrollArea()
        self.answer_area.setWidgetResizable(True)
        self.answer_area.setFrameShape(QFrame.Shape.NoFrame)
        self.answer_area.setWidget(self._answer_box)
        self.answer_area.setObjectName("quickAnswers")
        self._answer_box.setObjectName("quickAnswerBox")
        self.answer_area.viewport().setAutoFillBackground(False)  # the prompt's own background shows
        self.answer_area.setMinimumHeight(180)
        self.answer_area.hide()
        self.copy_button = QPushButton("Copy")
        self.continue_button = QPushButton("Continue in Reflexia")
        self.stop_button = QPushButton("Stop")
        self.copy_button.clicked.connect(self.copy)
        self.continue_button.clicked.connect(self._on_continue)
        self.stop_button.clicked.connect(session.stop)
        column = QVBoxLayout(self)
        column.setContentsMargins(12, 12, 12, 12)
        column.addWidget(self.input)
        column.addWidget(self.status)
        column.addWidget(self.question)
        column.addWidget(self.answer_area, 1)
        self.action_row = QWidget()
        row = QHBoxLayout(self.action_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.stop_button)
        row.addStretch(1)
        row.addWidget(self.copy_button)
        row.addWidget(self.continue_button)
        column.addWidget(self.action_row)
        self.action_row.hide()
        self._repaint = QTimer(self)
        self._repaint.setInterval(_REPAINT_MS)
        self._repaint.timeout.connect(self._flush)
        session.reply_started.connect(self._on_started)
        session.reply_waiting.connect(self._on_waiting)
        session.reply_running.connect(self._on_running)
        session.reply_token.connect(self._on_token)
        session.reply_finished.connect(self._on_finished)
        session.reply_failed.connect(self._on_failed)

    # -- showing ----------------------------------------------------------
    def open_near(self, anchor: QRect | None = None) -> None:
        """Show under ``anchor`` (the status item), else at the top centre of the screen under the mouse."""
        self.adjustSize()
        screen = QGuiApplication.screenAt(QCursor.pos()) or QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        if anchor is not None and not anchor.isEmpty():
            x = min(max(area.left(), anchor.center().x() - WIDTH // 2), area.right() - WIDTH)
            where = QPoint(x, anchor.bottom() + 6)
        else:
            where = QPoint(area.center().x() - WIDTH // 2, area.top() + area.height() // 6)
        self.move(where)
        self.show()
        self.raise_()
        self.activateWindow()
        self.input.setFocus()
        self.input.selectAll()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        """Esc closes (a reply in progress goes on; opening again shows it)."""
        if event.key() == Qt.Key.Key_Escape:
            self.hide()
            return
        super().keyPressEvent(event)

    # -- asking -----------------------------------------------------------
    @Slot()
    def ask(self) -> None:
        """Send the input line."""
        text = self.input.text().strip()
        if not text or self._session.is_replying:
            return
        if self._session.send(text):
            self.input.clear()

    @Slot()
    def copy(self) -> None:
        """Put the answer's Markdown on the clipboard."""
        if self.answer is not None:
            QGuiApplication.clipboard().setText(self.answer.text)
            flash_copied(self.copy_button)

    @Slot()
    def _on_continue(self) -> None:
        if not self._session.is_replying and self._session.conversation.turns:
            self.hide()
            self.continue_requested.emit(self._session)

    def _say(self, text: str) -> None:
        set_label_text(self.status, text)
        self.status.setVisible(bool(text))

    @Slot(object)
    def _on_started(self, started: ReplyStarted) -> None:
        if self.answer is not None:
            self._answer_column.removeWidget(self.answer)
            self.answer.deleteLater()
        self.answer = MessageBubble("assistant", "")
        self._answer_column.insertWidget(0, self.answer)
        set_label_text(self.question, started.message)
        self.question.show()
        self.answer_area.show()
        self.action_row.show()
        self.stop_button.show()
        self.copy_button.setEnabled(False)
        self.continue_button.setEnabled(False)
        self._say("Searching your documents…" if self._session.documents_on else "")
        self.adjustSize()

    @Slot(int)
    def _on_waiting(self, place: int) -> None:
        ahead = "the other reply" if place == 1 else f"{place} other requests"
        self._say(f"Waiting for {ahead} to finish…")

    @Slot()
    def _on_running(self) -> None:
        self._say("")
        self._repaint.start()

    @Slot(str)
    def _on_token(self, text: str) -> None:
        if self.answer is not None:
            self.answer.append(text)

    @Slot()
    def _flush(self) -> None:
        if self.answer is not None:
            self.answer.render_text()

    @Slot(object)
    def _on_finished(self, result: GenerationResult) -> None:
        self._repaint.stop()
        if self.answer is not None:
            self.answer.set_text(result.text)
            self.answer.finish()
            if self.answer.copy_button is not None:
                self.answer.copy_button.hide()  # the prompt's own Copy, below, does it
            if self._session.reply_sources is not None or self._session.search_problem:
                self.answer.set_sources(self._session.used_sources(result))
        self.stop_button.hide()
        self.copy_button.setEnabled(bool(result.text))
        self.continue_button.setEnabled(bool(self._session.conversation.turns))
        self._say("Stopped." if result.stats.stop_reason == "cancelled" else "")
        self.input.setFocus()

    @Slot(str, str)
    def _on_failed(self, message: str, prompt: str) -> None:
        self._repaint.stop()
        self.stop_button.hide()
        self._say(message)
        self.input.setText(prompt)
