"""The conversation: one bubble per message, Markdown rendered while it streams.

Streaming tokens only touch the last bubble, and a timer repaints it at most
30 times a second, so a long conversation never re-renders per token. The view
follows a streaming reply while the user is at the bottom; scrolled up, it
stays where the user reads and offers "Jump to latest".
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from PySide6.QtCore import QEvent, QPoint, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsDropShadowEffect,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from reflexia.ui.code_block import CodeBlockView, FrozenLabel, size_hint_stand_in
from reflexia.ui.markdown_html import ColorScheme
from reflexia.ui.markup import Markup, set_label_text
from reflexia.ui.message_bubble import MessageBubble
from reflexia.ui.theme import applied_scheme

# The bubble and code block are imported from here too (they were defined here first).
__all__ = [
    "AT_BOTTOM_PX",
    "LOAD_SLICE_MS",
    "REPAINT_INTERVAL_MS",
    "ChatView",
    "CodeBlockView",
    "FrozenLabel",
    "MessageBubble",
]

REPAINT_INTERVAL_MS = 33  # ~30 Hz
LOAD_SLICE_MS = 15  # building older messages of a loading conversation, per turn of the event loop
AT_BOTTOM_PX = 8  # this close to the end counts as "at the bottom": the view follows new text


Sources = Sequence[Mapping[str, object]] | None
#: A stored message to show: (role, Markdown text, footer), and its sources if it has any.
ShownMessage = tuple[str, str, str] | tuple[str, str, str, Sources]


class _Column(QWidget):
    """A column of bubbles: the scrolled one, and its parts made while a conversation loads."""

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """A stand-in (see ``size_hint_stand_in``): the column is given its width."""
        return size_hint_stand_in()


class ChatView(QScrollArea):
    """Scrollable list of message bubbles with an empty-state card.

    The view follows the newest text while the user is at the bottom. Scrolled
    up, it keeps what the user reads in place (text growing below, older
    messages of a loading conversation arriving above) and shows a floating
    "Jump to latest ↓" button. The code's colours follow the theme applied to
    the application (``reflexia.ui.theme``): a style sheet change makes the
    view check it.

    Signals:
        open_model_requested(): the empty state's "Open GGUF…" was clicked.
        demo_model_requested(): the empty state's "Create demo model" was clicked.
        edit_requested(int): Edit was pressed on a message of the user's; the number is
            how many of the user's messages come after it (0: the last one). Counted from
            the end because a long conversation's oldest messages may not be shown yet.
    """

    open_model_requested = Signal()
    demo_model_requested = Signal()
    edit_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatView")
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self._content = content = _Column()
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
        self._following = True
        self._older: list[ShownMessage] = []  # a loading conversation's messages not shown yet
        self._pages: list[_Column] = []  # the loaded conversation's bubbles, a column per slice
        self._scheme: ColorScheme = applied_scheme()
        self._repaint = QTimer(self)
        self._repaint.setInterval(REPAINT_INTERVAL_MS)
        self._repaint.timeout.connect(self._flush)
        self._loader = QTimer(self)
        self._loader.setInterval(0)
        self._loader.timeout.connect(self._show_older)
        self.jump_button = self._make_jump_button()
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._on_range_changed)
        bar.valueChanged.connect(self._on_scrolled)

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

    def _make_jump_button(self) -> QPushButton:
        # A child of the scroll area, not of the content: it floats over the viewport.
        button = QPushButton("Jump to latest ↓", self)
        button.setObjectName("jumpToLatest")
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.setToolTip("Scroll to the newest message and follow it")
        button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # clicking it leaves the focus in the input box
        shadow = QGraphicsDropShadowEffect(button)
        shadow.setBlurRadius(14)
        shadow.setOffset(0, 2)
        shadow.setColor(QColor(0, 0, 0, 70))
        button.setGraphicsEffect(shadow)
        button.clicked.connect(self.scroll_to_latest)
        button.hide()
        return button

    def set_empty_hint(self, text: Markup | str) -> None:
        """Explain, on the empty state, what to do next (rich only when ``text`` is Markup)."""
        set_label_text(self.empty_hint, text)

    @property
    def bubbles(self) -> list[MessageBubble]:
        """The messages shown, oldest first (while a conversation loads, its newest so far)."""
        return list(self._bubbles)

    @property
    def following(self) -> bool:
        """The view keeps the newest text in sight (the user is at the bottom)."""
        return self._following

    @property
    def loading(self) -> bool:
        """Older messages of a conversation being loaded are still to be shown."""
        return bool(self._older)

    @property
    def color_scheme(self) -> ColorScheme:
        """The scheme the code is coloured for."""
        return self._scheme

    def add_message(self, role: str, text: str) -> MessageBubble:
        """Append a finished message (or, with no text, an empty one to stream into)."""
        bubble = self._make_bubble(role, text)
        self._column.insertWidget(self._column.count() - 1, bubble)
        self._bubbles.append(bubble)
        self._empty.hide()
        self._set_following(True)  # the user's own message: show it and what follows
        return bubble

    def load_messages(self, messages: Sequence[ShownMessage]) -> None:
        """Show a whole conversation, replacing the one shown, scrolled to its end.

        The newest messages are shown at once; older ones are put above them in
        slices of about ``LOAD_SLICE_MS`` between events, so a conversation of
        hundreds of messages opens without freezing the window. Each message is
        rendered once, in one pass, and laid out once, at the column's width
        (the scroll bar is kept while they arrive, so that width stays).

        Args:
            messages: (role, Markdown text, footer[, sources]) of each message, oldest first;
                sources as the history keeps them (None: documents were not searched).
        """
        self.clear()
        self._older = list(messages)
        if self._older:
            self._empty.hide()
            self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
            self._show_older()

    @Slot()
    def _show_older(self) -> None:
        started = time.perf_counter()
        shown = self.viewport().isVisible()  # else widths are unknown: the first showing lays out
        anchor = self._bubbles[0] if self._bubbles and shown else None  # new pages go above it
        anchor_y = anchor.mapTo(self._content, QPoint(0, 0)).y() if anchor is not None else 0
        outer = self.viewport().width()
        margins = self._column.contentsMargins()
        width = outer - margins.left() - margins.right()
        # A slice's bubbles go in a column of their own: putting it above the others moves one
        # widget, where putting each bubble there would move every bubble below, slice after slice.
        page = _Column()
        page_column = QVBoxLayout(page)
        page_column.setContentsMargins(0, 0, 0, 0)
        page_column.setSpacing(self._column.spacing())
        if shown:
            page.resize(width, 0)  # every first layout is then at the final width
        self._column.insertWidget(1, page)  # above the others; 0 is the empty state
        page.show()
        self._pages.append(page)
        while self._older and (time.perf_counter() - started) * 1000 < LOAD_SLICE_MS:
            role, text, footer, *sources = self._older.pop()
            bubble = self._make_bubble(role, text)
            bubble.set_footer(footer)
            if sources and sources[0] is not None:
                bubble.set_sources(sources[0])
            if shown:
                bubble.resize(width, bubble.height())
            page_column.insertWidget(0, bubble)
            self._bubbles.insert(0, bubble)
            bubble.show()  # polished and laid out now, inside this slice's time
        if shown:
            # Grow the column before laying it out (at its old height, it would squeeze every
            # bubble); then keep what a user who scrolled up reads in place, though pushed down.
            self._content.resize(outer, self._content.heightForWidth(outer))
            page_column.activate()
            self._column.activate()
        if anchor is not None and not self._following:
            bar = self.verticalScrollBar()
            bar.setValue(bar.value() + anchor.mapTo(self._content, QPoint(0, 0)).y() - anchor_y)
        if self._older:
            self._loader.start()
        else:
            self._loader.stop()
            self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)

    def _make_bubble(self, role: str, text: str) -> MessageBubble:
        bubble = MessageBubble(role, text, scheme=self._scheme)
        bubble.edit_requested.connect(self._on_edit_requested)
        return bubble

    @Slot()
    def _on_edit_requested(self) -> None:
        bubble = self.sender()
        if not isinstance(bubble, MessageBubble) or bubble not in self._bubbles:
            return
        after = self._bubbles[self._bubbles.index(bubble) + 1 :]
        self.edit_requested.emit(sum(1 for b in after if b.role == "user"))

    def remove_from_user_message(self, later: int) -> None:
        """Take back one of the user's messages and everything after it.

        Args:
            later: how many of the user's messages come after it (0: the last one).
        """
        users = [i for i, bubble in enumerate(self._bubbles) if bubble.role == "user"]
        if later >= len(users):
            return
        self.end_reply(None)
        first = users[len(users) - 1 - later]
        for bubble in self._bubbles[first:]:
            self._drop(bubble)
        del self._bubbles[first:]
        if not self._bubbles and not self._older:
            self._empty.show()
        self._set_following(True)

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
            self._drop(self._bubbles.pop())
        if not self._bubbles:
            self._empty.show()
            self._set_following(True)

    def clear(self) -> None:
        """Remove every message and show the empty state."""
        self.end_reply(None)
        self._loader.stop()
        self._older = []
        self._content.setUpdatesEnabled(False)
        try:
            for bubble in self._bubbles:
                if bubble.parentWidget() is self._content:  # not in a page, which goes with its bubbles
                    self._drop(bubble)
            for page in self._pages:
                self._drop(page)
        finally:
            self._content.setUpdatesEnabled(True)
        self._bubbles, self._pages = [], []
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self._empty.show()
        self._set_following(True)

    @staticmethod
    def _drop(widget: QWidget) -> None:
        parent = widget.parentWidget()
        layout = parent.layout() if parent is not None else None
        if layout is not None:
            layout.removeWidget(widget)
        widget.hide()
        widget.deleteLater()

    @Slot(str)
    def set_color_scheme(self, scheme: str) -> None:
        """Colour code for the "light" or "dark" theme; code already shown is coloured again."""
        value: ColorScheme = "dark" if scheme == "dark" else "light"
        if value != self._scheme:
            self._scheme = value
            for bubble in self._bubbles:
                bubble.set_color_scheme(value)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        """A new application style sheet may be the other theme's."""
        if event.type() == QEvent.Type.StyleChange:
            self.set_color_scheme(applied_scheme())
        super().changeEvent(event)

    @Slot()
    def scroll_to_latest(self) -> None:
        """Scroll to the newest message and follow the conversation again."""
        self._set_following(True)
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    @Slot()
    def _flush(self) -> None:
        if self._dirty and self._streaming is not None:
            self._dirty = False
            started = time.perf_counter()
            self._streaming.render_text()
            # Keep painting under ~a quarter of the GUI thread's time even for a huge tail.
            cost_ms = (time.perf_counter() - started) * 1000
            self._repaint.setInterval(max(REPAINT_INTERVAL_MS, int(cost_ms * 4)))

    @Slot(int)
    def _on_scrolled(self, value: int) -> None:
        # Reaching the end (by wheel, keys or the bar) resumes following; leaving it stops.
        self._set_following(value >= self.verticalScrollBar().maximum() - AT_BOTTOM_PX)

    @Slot(int, int)
    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        bar = self.verticalScrollBar()
        if self._following:
            bar.setValue(maximum)
        else:  # the text may have shrunk up to where the user is: they are at the bottom again
            self._set_following(bar.value() >= maximum - AT_BOTTOM_PX)
        if self.jump_button.isVisible():
            self._place_jump_button()  # the scroll bar may have come or gone

    def _set_following(self, following: bool) -> None:
        self._following = following
        show = not following and bool(self._bubbles)
        if show == self.jump_button.isHidden():
            self.jump_button.setVisible(show)
            if show:
                self._place_jump_button()

    def _place_jump_button(self) -> None:
        button = self.jump_button
        button.adjustSize()
        area = self.viewport().geometry()
        button.move(area.right() - button.width() - 15, area.bottom() - button.height() - 15)
        button.raise_()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        """Keep the floating button in the viewport's corner."""
        super().resizeEvent(event)
        self._place_jump_button()
