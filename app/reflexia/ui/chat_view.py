"""The conversation: one bubble per message, Markdown rendered while it streams.

Streaming tokens only touch the last bubble, and a timer repaints it at most
30 times a second, so a long conversation never re-renders per token. The view
follows a streaming reply while the user is at the bottom; scrolled up, it
stays where the user reads and offers "Jump to latest".
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from PySide6.QtCore import QEvent, QPoint, QSize, Qt, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import (
    QColor,
    QCursor,
    QDesktopServices,
    QGuiApplication,
    QResizeEvent,
    QTextDocumentFragment,
)
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsDropShadowEffect,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from reflexia.ui.markdown_html import (
    COPY_LINK,
    CodePart,
    ColorScheme,
    HtmlPart,
    MarkdownStream,
    code_to_html,
    markdown_to_html,
    render_blocks,
)
from reflexia.ui.theme import applied_scheme

REPAINT_INTERVAL_MS = 33  # ~30 Hz
COPIED_FEEDBACK_MS = 1500
LOAD_SLICE_MS = 15  # building older messages of a loading conversation, per turn of the event loop
AT_BOTTOM_PX = 8  # this close to the end counts as "at the bottom": the view follows new text
_LINK_SCHEMES = ("http", "https", "mailto")  # what a link in a model's reply may open


def _open_link(href: str, codes: Sequence[str]) -> None:
    """A link in a message was activated: copy a code block, or open a web link."""
    if href.startswith(COPY_LINK):
        index = int(href.removeprefix(COPY_LINK))
        if 0 <= index < len(codes):
            QGuiApplication.clipboard().setText(codes[index])
            QToolTip.showText(QCursor.pos(), "Copied")
        return
    url = QUrl(href)
    if url.scheme() in _LINK_SCHEMES:
        QDesktopServices.openUrl(url)


def _flash_copied(button: QPushButton) -> None:
    button.setText("Copied")
    QTimer.singleShot(COPIED_FEEDBACK_MS, button, lambda: button.setText("Copy"))


def _size_hint_stand_in() -> QSize:
    # Qt's own answer for a widget with a height-for-width layout lays all its text out at a width
    # the column never gives; the column asks heightForWidth at the width it does give.
    return QSize(480, 48)


def _setup_body(label: QLabel, object_name: str = "bubbleBody") -> QLabel:
    label.setObjectName(object_name)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setTextInteractionFlags(
        Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.LinksAccessibleByMouse
    )
    label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    return label


class FrozenLabel(QLabel):
    """A rich-text label whose text changes only with the theme, with its size answers cached.

    Qt asks a word-wrapped label for its height at several widths on every
    layout pass, and each answer re-lays out the whole rich text; a streaming
    reply triggers a layout pass per repaint, so without a cache every
    finished paragraph of the reply would be laid out again and again. Qt's
    own size hints lay the text out at three or four more widths (unwrapped,
    80 characters, a word per line); the bubble gives the label its width
    anyway, so the hints here are cheap stand-ins and only heightForWidth lays
    text out: a label of a conversation being opened is laid out once, not five times.

    Attributes:
        codes: the code behind each Copy link in the text, by index.
        source: the Markdown the text was rendered from, kept when the text holds
            highlighted code (which a theme change renders again).
    """

    def __init__(
        self, html: str, object_name: str = "bubbleBody", codes: tuple[str, ...] = (), source: str = ""
    ) -> None:
        super().__init__()
        _setup_body(self, object_name)
        self.codes = codes
        self.source = source
        self._heights: dict[int, int] = {}
        self.setText(html)
        if "<a " in html:
            keyboard = Qt.TextInteractionFlag.LinksAccessibleByKeyboard
            self.setTextInteractionFlags(self.textInteractionFlags() | keyboard)
            self.linkActivated.connect(self._on_link)

    def set_html(self, html: str) -> None:
        """Replace the text (a theme change) and forget the cached sizes."""
        self.setText(html)
        self._heights.clear()
        self.updateGeometry()

    @Slot(str)
    def _on_link(self, href: str) -> None:
        _open_link(href, self.codes)

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt override)
        """Cached: the text does not change."""
        height = self._heights.get(width)
        if height is None:
            height = self._heights[width] = super().heightForWidth(width)
        return height

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """A stand-in: the layout uses heightForWidth at the width it gives."""
        return QSize(480, self.fontMetrics().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """A stand-in: a long word is clipped at the bubble's edge rather than widening the view."""
        return QSize(60, self.fontMetrics().height())

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        """A new font (a style sheet's) changes every height."""
        if event.type() == QEvent.Type.FontChange:
            self._heights.clear()
        super().changeEvent(event)


class CodeBlockView(QFrame):
    """A code block: its language, a Copy button, and the code, highlighted once complete.

    While the block streams its code is plain text in pieces: finished pieces
    are frozen labels and only the newest is set again as tokens arrive;
    highlighting the whole block on every repaint would cost more and more as it
    grows. ``finish`` replaces the pieces by one highlighted label.
    """

    def __init__(self, language: str, scheme: ColorScheme, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("codeBlock")
        self._scheme: ColorScheme = scheme
        self._pieces: list[str] = []
        self._live = ""
        self._live_label: QLabel | None = None
        self._highlighted: FrozenLabel | None = None
        header = QFrame()
        header.setObjectName("codeHeader")
        row = QHBoxLayout(header)
        row.setContentsMargins(12, 2, 4, 2)
        self._language = QLabel()
        self._language.setObjectName("codeLanguage")
        self._language.setTextFormat(Qt.TextFormat.PlainText)  # the model wrote it: never markup
        self.copy_button = QPushButton("Copy")
        self.copy_button.setObjectName("copyCodeButton")
        self.copy_button.setToolTip("Copy the code")
        self.copy_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.copy_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click leaves no focus frame
        self.copy_button.clicked.connect(self.copy)
        row.addWidget(self._language)
        row.addStretch(1)
        row.addWidget(self.copy_button)
        self._body = QVBoxLayout()
        self._body.setContentsMargins(12, 8, 12, 10)
        self._body.setSpacing(0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(header)
        layout.addLayout(self._body)
        self.language = ""
        self.set_language(language)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """A stand-in (see ``_size_hint_stand_in``)."""
        return _size_hint_stand_in()

    @property
    def code(self) -> str:
        """Exactly the code shown (so far, while it streams)."""
        return "\n".join([*self._pieces, self._live] if self._live else self._pieces)

    @property
    def finished(self) -> bool:
        """The code is complete and highlighted."""
        return self._highlighted is not None

    def set_language(self, language: str) -> None:
        """Name the language (a later, longer piece of code may be recognised when the first was not)."""
        if language and language != self.language:
            self.language = language
        self._language.setText(self.language or "code")

    def add_piece(self, code: str) -> None:
        """Add finished code of a block still streaming; shown plain until ``finish``."""
        self.set_live("")
        if code:
            self._pieces.append(code)
            label = FrozenLabel(code_to_html(code, self.language, highlighted=False), "codeBody")
            self._body.insertWidget(len(self._pieces) - 1, label)

    def set_live(self, code: str) -> None:
        """Show the code still being written, after the finished pieces."""
        if code == self._live:
            return
        self._live = code
        if self._live_label is None:
            self._live_label = _setup_body(QLabel(), "codeBody")
            self._body.addWidget(self._live_label)
        self._live_label.setText(code_to_html(code, self.language, highlighted=False))
        self._live_label.setVisible(bool(code))

    def finish(self, rest: str = "") -> None:
        """All the code is known (``rest`` is its end): one highlighted label replaces the pieces."""
        last = rest or self._live  # what the tail showed of the block is the beginning of ``rest``
        code = "\n".join([*self._pieces, last] if last else self._pieces)
        self._pieces, self._live, self._live_label = [code], "", None
        while (item := self._body.takeAt(0)) is not None:
            if (widget := item.widget()) is not None:
                widget.hide()
                widget.deleteLater()
        self._highlighted = FrozenLabel(code_to_html(code, self.language, self._scheme), "codeBody")
        self._highlighted.setTextInteractionFlags(
            self._highlighted.textInteractionFlags() | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self._body.addWidget(self._highlighted)

    def set_color_scheme(self, scheme: ColorScheme) -> None:
        """Highlight again with the scheme's colours."""
        if scheme != self._scheme:
            self._scheme = scheme
            if self._highlighted is not None:
                self._highlighted.set_html(code_to_html(self.code, self.language, scheme))

    @Slot()
    def copy(self) -> None:
        """Put exactly the code on the clipboard."""
        QGuiApplication.clipboard().setText(self.code)
        _flash_copied(self.copy_button)


class MessageBubble(QFrame):
    """One message; the assistant's is rendered as Markdown.

    The body is a column: one label per finished run of Markdown blocks,
    rendered once, a ``CodeBlockView`` per top-level code block, then, while
    the reply streams, a tail label for the blocks still being written and the
    code block being written, if any. Re-rendering a whole long reply takes
    tens of milliseconds; the tail takes well under one. A message created
    with its text is complete: it is rendered in one pass, and only the
    widgets it shows are made (a long conversation has thousands).
    """

    def __init__(
        self, role: str, text: str = "", parent: QWidget | None = None, *, scheme: ColorScheme = "light"
    ) -> None:
        super().__init__(parent)
        self.role = role
        self._scheme: ColorScheme = scheme
        self.setObjectName("userBubble" if role == "user" else "assistantBubble")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 8 if role == "user" else 6)
        layout.setSpacing(4)
        self.author = QLabel("You" if role == "user" else "Reflexia")
        self.author.setObjectName("bubbleAuthor")
        self._blocks = QVBoxLayout()
        self._blocks.setSpacing(6)
        self._blocks.setContentsMargins(0, 0, 0, 0)
        self._frozen = 0  # the first widgets of _blocks are final; the tail's come after them
        self._stream = MarkdownStream()
        self._tail: QLabel | None = None
        self._tail_shown = False
        self._painted_tail: str | None = None
        self._open_code: CodeBlockView | None = None  # the code block still being written
        self._footer: QLabel | None = None
        self._footer_row = QHBoxLayout()
        self._footer_row.setContentsMargins(0, 0, 0, 0)
        self._footer_row.addStretch(1)
        self.copy_button: QPushButton | None = None
        if role != "user":
            self.copy_button = QPushButton("Copy")
            self.copy_button.setObjectName("copyReplyButton")
            self.copy_button.setToolTip("Copy the reply (Markdown)")
            self.copy_button.setCursor(Qt.CursorShape.PointingHandCursor)
            self.copy_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click leaves no focus frame
            self.copy_button.clicked.connect(self.copy)
            self.copy_button.hide()
            self._footer_row.addWidget(self.copy_button)
        layout.addWidget(self.author)
        layout.addLayout(self._blocks)
        layout.addLayout(self._footer_row)
        self._stream.feed(text)
        if text:
            self.finish()
        else:
            self.render_text()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """A stand-in (see ``_size_hint_stand_in``)."""
        return _size_hint_stand_in()

    @property
    def text(self) -> str:
        """The message's Markdown source."""
        return self._stream.text

    @property
    def footer(self) -> QLabel:
        """The small line under the message (made when first needed)."""
        if self._footer is None:
            self._footer = QLabel()
            self._footer.setObjectName("bubbleFooter")
            self._footer.hide()
            self._footer_row.insertWidget(0, self._footer)
        return self._footer

    def set_footer(self, text: str) -> None:
        """Show a small line under the message (timings, stop reason)."""
        if text or self._footer is not None:
            self.footer.setText(text)
            self.footer.setVisible(bool(text))

    def _body_widgets(self) -> list[QWidget]:
        items = (self._blocks.itemAt(i) for i in range(self._blocks.count()))
        return [widget for item in items if item is not None and (widget := item.widget()) is not None]

    def code_blocks(self) -> list[CodeBlockView]:
        """The top-level code blocks, in order."""
        return [widget for widget in self._body_widgets() if isinstance(widget, CodeBlockView)]

    def rendered_text(self) -> str:
        """What the body shows, as plain text (for tests and accessibility)."""
        shown: list[str] = []
        for widget in self._body_widgets():
            if isinstance(widget, CodeBlockView):
                shown.append(widget.code)
            elif isinstance(widget, QLabel) and (widget is not self._tail or self._tail_shown):
                shown.append(QTextDocumentFragment.fromHtml(widget.text()).toPlainText().strip())
        return "\n".join(shown)

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
            self._insert(FrozenLabel(escaped.replace("\n", "<br>")))
            return
        continued = self._stream.continues_fence
        finished = self._stream.take_finished()
        if finished:
            self._freeze(finished, continued, open_at_end=self._stream.continues_fence)
        tail = self._stream.tail
        if tail != self._painted_tail:
            self._painted_tail = tail
            self._paint_tail(tail)

    def finish(self) -> None:
        """The message is complete: freeze the rest, highlight its code, offer Copy."""
        if self.role == "user":
            self.render_text()
            return
        continued = self._stream.continues_fence
        self._freeze(self._stream.take_all(), continued, open_at_end=False)
        if self._open_code is not None:
            self._open_code.finish()
            self._open_code = None
        self._painted_tail = ""
        self._set_tail_shown(False)
        if self.copy_button is not None:
            self.copy_button.setVisible(bool(self.text))

    def _freeze(self, markdown: str, continued: bool, *, open_at_end: bool) -> None:
        """Show finished Markdown for good, before the tail.

        The first code block in it is the one the tail was showing (or, if
        ``continued``, the one cut short in the previous piece), so that block's
        view is kept and completed rather than made anew.
        """
        parts = render_blocks(markdown, self._scheme) if markdown.strip() else []
        adoptable, self._open_code = self._open_code, None
        for index, part in enumerate(parts):
            if isinstance(part, HtmlPart):
                source = part.source if part.codes else ""
                self._insert(FrozenLabel(part.html, codes=part.codes, source=source))
                continue
            view, adoptable = adoptable or CodeBlockView(part.language, self._scheme), None
            view.set_language(part.language)
            self._insert(view)
            if open_at_end and index == len(parts) - 1:
                view.add_piece(part.code)
                self._open_code = view  # cut short: the tail goes on with it
            else:
                view.finish(part.code)
        if adoptable is not None and continued:
            adoptable.finish()  # the cut block ended with nothing after the cut
        elif adoptable is not None:
            self._open_code = adoptable  # its fence is still all in the tail

    def _paint_tail(self, tail: str) -> None:
        if not self._stream.text:
            self._tail_label().setText("<i>…</i>")
            self._set_tail_shown(True)
            return
        parts = render_blocks(tail, self._scheme, streaming=True) if tail.strip() else []
        last = parts[-1] if parts else None
        code = last if isinstance(last, CodePart) else None
        if code is not None:
            parts.pop()
        if parts or self._tail is not None:
            self._tail_label().setText("".join(part.html for part in parts if isinstance(part, HtmlPart)))
        self._set_tail_shown(bool(parts))
        if code is None:
            if self._open_code is not None and not self._stream.continues_fence:
                self._blocks.removeWidget(self._open_code)  # the fence is gone (the text was replaced)
                self._open_code.hide()
                self._open_code.deleteLater()
                self._open_code = None
            return
        if self._open_code is None:
            self._open_code = CodeBlockView(code.language, self._scheme)
            self._blocks.addWidget(self._open_code)  # after the tail's text
        self._open_code.set_language(code.language)
        self._open_code.set_live(code.code)

    def _tail_label(self) -> QLabel:
        if self._tail is None:
            self._tail = _setup_body(QLabel())
            self._tail.linkActivated.connect(self._on_tail_link)
            self._blocks.insertWidget(self._frozen, self._tail)
        return self._tail

    def _set_tail_shown(self, shown: bool) -> None:
        self._tail_shown = shown
        if self._tail is not None:
            self._tail.setVisible(shown)

    def _insert(self, widget: QWidget) -> None:
        """Put a finished block (or move the tail's code block) after the other finished ones."""
        index = self._blocks.indexOf(widget)
        if index >= 0:
            self._blocks.removeWidget(widget)
            self._frozen -= index < self._frozen
        self._blocks.insertWidget(self._frozen, widget)
        self._frozen += 1

    def _clear_blocks(self) -> None:
        self._open_code = None
        self._frozen = 0
        for widget in self._body_widgets():
            if widget is not self._tail:
                self._blocks.removeWidget(widget)
                widget.hide()
                widget.deleteLater()

    def set_color_scheme(self, scheme: ColorScheme) -> None:
        """Colour the code for a light or dark theme."""
        if scheme == self._scheme:
            return
        self._scheme = scheme
        for widget in self._body_widgets():
            if isinstance(widget, CodeBlockView):
                widget.set_color_scheme(scheme)
            elif isinstance(widget, FrozenLabel) and widget.source:
                widget.set_html(markdown_to_html(widget.source, scheme))

    @Slot()
    def copy(self) -> None:
        """Put the message's Markdown source on the clipboard."""
        QGuiApplication.clipboard().setText(self.text)
        if self.copy_button is not None:
            _flash_copied(self.copy_button)

    @Slot(str)
    def _on_tail_link(self, href: str) -> None:
        _open_link(href, ())


class _Column(QWidget):
    """A column of bubbles: the scrolled one, and its parts made while a conversation loads."""

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """A stand-in (see ``_size_hint_stand_in``): the column is given its width."""
        return _size_hint_stand_in()


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
    """

    open_model_requested = Signal()
    demo_model_requested = Signal()

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
        self._older: list[tuple[str, str, str]] = []  # a loading conversation's messages not shown yet
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

    def set_empty_hint(self, text: str) -> None:
        """Explain, on the empty state, what to do next."""
        self.empty_hint.setText(text)

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
        bubble = MessageBubble(role, text, scheme=self._scheme)
        self._column.insertWidget(self._column.count() - 1, bubble)
        self._bubbles.append(bubble)
        self._empty.hide()
        self._set_following(True)  # the user's own message: show it and what follows
        return bubble

    def load_messages(self, messages: Sequence[tuple[str, str, str]]) -> None:
        """Show a whole conversation, replacing the one shown, scrolled to its end.

        The newest messages are shown at once; older ones are put above them in
        slices of about ``LOAD_SLICE_MS`` between events, so a conversation of
        hundreds of messages opens without freezing the window. Each message is
        rendered once, in one pass, and laid out once, at the column's width
        (the scroll bar is kept while they arrive, so that width stays).

        Args:
            messages: (role, Markdown text, footer) of each message, oldest first.
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
            role, text, footer = self._older.pop()
            bubble = MessageBubble(role, text, scheme=self._scheme)
            bubble.set_footer(footer)
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
