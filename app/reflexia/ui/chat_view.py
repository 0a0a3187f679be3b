"""The conversation: one bubble per message, Markdown rendered while it streams.

Streaming tokens only touch the last bubble, and a timer repaints it at most
30 times a second, so a long conversation never re-renders per token.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QTextDocumentFragment
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from reflexia.ui.markdown_html import MarkdownStream, markdown_to_html

REPAINT_INTERVAL_MS = 33  # ~30 Hz


class FrozenLabel(QLabel):
    """A rich-text label whose text never changes, with its size answers cached.

    Qt asks a word-wrapped label for its height at several widths on every
    layout pass, and each answer re-lays out the whole rich text; a streaming
    reply triggers a layout pass per repaint, so without a cache every
    finished paragraph of the reply would be laid out again and again.
    """

    def __init__(self, html: str) -> None:
        super().__init__()
        self.setText(html)
        self._heights: dict[int, int] = {}
        self._size_hint: QSize | None = None
        self._minimum_size_hint: QSize | None = None

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt override)
        """Cached: the text never changes."""
        height = self._heights.get(width)
        if height is None:
            height = self._heights[width] = super().heightForWidth(width)
        return height

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """Cached: the text never changes."""
        if self._size_hint is None:
            self._size_hint = super().sizeHint()
        return self._size_hint

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """Cached: the text never changes."""
        if self._minimum_size_hint is None:
            self._minimum_size_hint = super().minimumSizeHint()
        return self._minimum_size_hint


def _setup_body(label: QLabel, object_name: str = "bubbleBody") -> QLabel:
    label.setObjectName(object_name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setTextInteractionFlags(
        Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.LinksAccessibleByMouse
    )
    label.setOpenExternalLinks(True)
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    return label


class MessageBubble(QFrame):
    """One message; the assistant's is rendered as Markdown.

    The body is a column of labels: one per finished Markdown block, rendered
    once, plus a tail label for the block still streaming. Re-rendering a
    whole long reply takes tens of milliseconds; the tail takes well under one.
    """

    def __init__(self, role: str, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.setObjectName("userBubble" if role == "user" else "assistantBubble")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(4)
        self.author = QLabel("You" if role == "user" else "Reflexia")
        self.author.setObjectName("bubbleAuthor")
        self._blocks = QVBoxLayout()
        self._blocks.setSpacing(0)
        self._blocks.setContentsMargins(0, 0, 0, 0)
        self._tail = _setup_body(QLabel())
        self._blocks.addWidget(self._tail)
        self._stream = MarkdownStream()
        self._painted_tail: str | None = None
        self._tail_shown = True
        self.footer = QLabel()
        self.footer.setObjectName("bubbleFooter")
        self.footer.hide()
        layout.addWidget(self.author)
        layout.addLayout(self._blocks)
        layout.addWidget(self.footer)
        self.set_text(text)

    @property
    def text(self) -> str:
        """The message's Markdown source."""
        return self._stream.text

    def rendered_text(self) -> str:
        """What the body shows, as plain text (for tests and accessibility)."""
        items = (self._blocks.itemAt(i) for i in range(self._blocks.count()))
        widgets = (item.widget() for item in items if item is not None)
        shown: list[QLabel] = [widget for widget in widgets if isinstance(widget, FrozenLabel)]
        if self._tail_shown:
            shown.append(self._tail)
        return "\n".join(QTextDocumentFragment.fromHtml(label.text()).toPlainText() for label in shown)

    def append(self, piece: str) -> None:
        """Add streamed text; the caller decides when to repaint."""
        self._stream.feed(piece)

    def set_text(self, text: str) -> None:
        """Replace the text and repaint."""
        if self._stream.text and text.startswith(self._stream.text):
            self._stream.feed(text[len(self._stream.text) :])
        elif text != self._stream.text or not self._stream.text:
            self._clear_blocks()
            self._stream = MarkdownStream()
            self._stream.feed(text)
            self._painted_tail = None
        self.render_text()

    def render_text(self) -> None:
        """Paint newly finished blocks and the streaming tail."""
        if self.role == "user":
            self._clear_blocks()
            escaped = self._stream.text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            self._add_block(escaped.replace("\n", "<br>"))
            self._set_tail_shown(False)
            return
        finished = self._stream.take_finished()
        if finished.strip():
            self._add_block(markdown_to_html(finished))
        tail = self._stream.tail
        if tail == self._painted_tail:
            return
        self._painted_tail = tail
        empty = not self._stream.text
        self._tail.setText("<i>…</i>" if empty else markdown_to_html(tail))
        self._set_tail_shown(empty or bool(tail.strip()))

    def finish(self) -> None:
        """The message is complete: freeze the tail like every other block."""
        self.render_text()
        tail = self._stream.tail
        if self.role == "assistant" and tail.strip():
            self._add_block(markdown_to_html(tail))
            self._set_tail_shown(False)

    def _set_tail_shown(self, shown: bool) -> None:
        self._tail_shown = shown
        self._tail.setVisible(shown)

    def _add_block(self, html: str) -> None:
        self._blocks.insertWidget(self._blocks.count() - 1, _setup_body(FrozenLabel(html)))

    def _clear_blocks(self) -> None:
        while self._blocks.count() > 1:
            item = self._blocks.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()

    def set_footer(self, text: str) -> None:
        """Show a small line under the message (timings, stop reason)."""
        self.footer.setText(text)
        self.footer.setVisible(bool(text))


class ChatView(QScrollArea):
    """Scrollable list of message bubbles with an empty-state card.

    Signals:
        open_model_requested(): the empty state's "Open GGUF…" was clicked.
        demo_model_requested(): the empty state's "Create demo model" was clicked.
    """

    open_model_requested = Signal()
    demo_model_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatView")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        content = QWidget()
        content.setObjectName("chatContent")
        content.setAutoFillBackground(True)  # opaque: scrolling can move pixels instead of repainting
        self._column = QVBoxLayout(content)
        self._column.setContentsMargins(24, 16, 24, 16)
        self._column.setSpacing(12)
        self._empty = self._make_empty_state()
        self._column.addWidget(self._empty)
        self._column.addStretch(1)
        self.setWidget(content)
        self._bubbles: list[MessageBubble] = []
        self._streaming: MessageBubble | None = None
        self._dirty = False
        self._stick_to_bottom = True
        self._repaint = QTimer(self)
        self._repaint.setInterval(REPAINT_INTERVAL_MS)
        self._repaint.timeout.connect(self._flush)
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._follow)
        bar.valueChanged.connect(self._remember_position)

    def _make_empty_state(self) -> QFrame:
        card = QFrame()
        card.setObjectName("emptyState")
        layout = QVBoxLayout(card)
        layout.setContentsMargins(32, 32, 32, 32)
        layout.setSpacing(10)
        title = QLabel("Chat with a model that runs on this computer")
        title.setObjectName("emptyTitle")
        title.setWordWrap(True)
        self.empty_hint = QLabel()
        self.empty_hint.setObjectName("emptyHint")
        self.empty_hint.setWordWrap(True)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open GGUF…")
        self.open_button.setObjectName("primaryButton")
        self.demo_button = QPushButton("Create demo model")
        self.open_button.clicked.connect(self.open_model_requested)
        self.demo_button.clicked.connect(self.demo_model_requested)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.demo_button)
        buttons.addStretch(1)
        layout.addWidget(title)
        layout.addWidget(self.empty_hint)
        layout.addLayout(buttons)
        return card

    def set_empty_hint(self, text: str) -> None:
        """Explain, on the empty state, what to do next."""
        self.empty_hint.setText(text)

    @property
    def bubbles(self) -> list[MessageBubble]:
        """The messages shown, oldest first."""
        return list(self._bubbles)

    def add_message(self, role: str, text: str) -> MessageBubble:
        """Append a finished message."""
        bubble = MessageBubble(role, text)
        if text:
            bubble.finish()
        self._column.insertWidget(self._column.count() - 1, bubble)
        self._bubbles.append(bubble)
        self._empty.hide()
        self._stick_to_bottom = True
        return bubble

    def begin_reply(self) -> MessageBubble:
        """Start the assistant's streaming bubble."""
        self._streaming = self.add_message("assistant", "")
        self._repaint.start(REPAINT_INTERVAL_MS)
        return self._streaming

    def append_token(self, text: str) -> None:
        """Add text to the streaming bubble; painted on the next timer tick."""
        if self._streaming is not None:
            self._streaming.append(text)
            self._dirty = True

    def end_reply(self, final_text: str | None, footer: str = "") -> None:
        """Finish the streaming bubble with the authoritative text."""
        self._repaint.stop()
        bubble, self._streaming = self._streaming, None
        self._dirty = False
        if bubble is None:
            return
        if final_text is not None:
            bubble.set_text(final_text)
        bubble.finish()
        bubble.set_footer(footer)

    def remove_last(self, role: str) -> None:
        """Take back the last bubble if it has ``role`` (a failed exchange)."""
        if self._bubbles and self._bubbles[-1].role == role:
            bubble = self._bubbles.pop()
            bubble.setParent(None)
            bubble.deleteLater()
        if not self._bubbles:
            self._empty.show()

    def clear(self) -> None:
        """Remove every message and show the empty state."""
        self.end_reply(None)
        while self._bubbles:
            bubble = self._bubbles.pop()
            bubble.setParent(None)
            bubble.deleteLater()
        self._empty.show()

    def _flush(self) -> None:
        if self._dirty and self._streaming is not None:
            self._dirty = False
            started = time.perf_counter()
            self._streaming.render_text()
            # Keep painting under ~a quarter of the GUI thread's time even for a huge tail.
            cost_ms = (time.perf_counter() - started) * 1000
            self._repaint.setInterval(max(REPAINT_INTERVAL_MS, int(cost_ms * 4)))

    def _remember_position(self, value: int) -> None:
        self._stick_to_bottom = value >= self.verticalScrollBar().maximum() - 8

    def _follow(self, _minimum: int, maximum: int) -> None:
        if self._stick_to_bottom:
            self.verticalScrollBar().setValue(maximum)
