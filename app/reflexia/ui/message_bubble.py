"""One message of the conversation: Markdown rendered once per finished block while it streams.

Streaming only touches the bubble's tail (the blocks still being written); each finished
run of Markdown is frozen in a label of its own and each top-level code block gets a
``CodeBlockView``, so a long reply never re-renders as a whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QSize, Signal, Slot
from PySide6.QtGui import QGuiApplication, QTextDocumentFragment
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from reflexia.ui.code_block import (
    CodeBlockView,
    FrozenLabel,
    flash_copied,
    open_link,
    setup_body,
    size_hint_stand_in,
    small_button,
)
from reflexia.ui.markdown_html import (
    CodePart,
    ColorScheme,
    HtmlPart,
    MarkdownStream,
    markdown_to_html,
    render_blocks,
)
from reflexia.ui.markup import plain_label, set_label_text
from reflexia.ui.sources_view import SourcesView


class MessageBubble(QFrame):
    """One message; the assistant's is rendered as Markdown.

    The body is a column: one label per finished run of Markdown blocks,
    rendered once, a ``CodeBlockView`` per top-level code block, then, while
    the reply streams, a tail label for the blocks still being written and the
    code block being written, if any. Re-rendering a whole long reply takes
    tens of milliseconds; the tail takes well under one. A message created
    with its text is complete: it is rendered in one pass, and only the
    widgets it shows are made (a long conversation has thousands).

    Signals:
        edit_requested(): the user pressed Edit on their own message.
    """

    edit_requested = Signal()

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
        self.edit_button: QPushButton | None = None
        if role == "user":
            resend = "Change this message and send it again (later messages are replaced)"
            self.edit_button = small_button("Edit", "editMessageButton", resend)
            self.edit_button.clicked.connect(self.edit_requested)
            self._footer_row.addWidget(self.edit_button)
        else:
            self.copy_button = small_button("Copy", "copyReplyButton", "Copy the reply (Markdown)")
            self.copy_button.clicked.connect(self.copy)
            self.copy_button.hide()
            self._footer_row.addWidget(self.copy_button)
        layout.addWidget(self.author)
        layout.addLayout(self._blocks)
        layout.addLayout(self._footer_row)
        self.sources: SourcesView | None = None
        self._stream.feed(text)
        if text:
            self.finish()
        else:
            self.render_text()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """A stand-in (see ``size_hint_stand_in``)."""
        return size_hint_stand_in()

    @property
    def text(self) -> str:
        """The message's Markdown source."""
        return self._stream.text

    @property
    def footer(self) -> QLabel:
        """The small line under the message (made when first needed)."""
        if self._footer is None:
            self._footer = plain_label()  # model and role names, as they are
            self._footer.setObjectName("bubbleFooter")
            # A long stats line wraps: unwrapped, its width would hold the bubble wider than the view.
            self._footer.setWordWrap(True)
            self._footer.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            self._footer.hide()
            # The footer takes the row's stretch: beside the row's spacer it had only half the room,
            # so "· stopped" wrapped with the other half empty. The spacer keeps the buttons at the
            # right while the footer is hidden.
            self._footer_row.insertWidget(0, self._footer, 1)
            self._footer_row.setStretch(1, 0)
        return self._footer

    def set_footer(self, text: str) -> None:
        """Show a small line under the message (timings, stop reason)."""
        if text or self._footer is not None:
            set_label_text(self.footer, text)
            self.footer.setVisible(bool(text))

    def set_sources(self, sources: Sequence[Mapping[str, object]] | None, note: str = "") -> None:
        """Show the documents the reply drew on under it (see ``SourcesView``)."""
        if self.sources is not None:
            self.sources.hide()
            self.sources.deleteLater()
        self.sources = SourcesView(sources, note)
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.insertWidget(layout.count() - 1, self.sources)  # above the footer row

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
            self._tail = setup_body(QLabel())
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
            flash_copied(self.copy_button)

    @Slot(str)
    def _on_tail_link(self, href: str) -> None:
        open_link(href, ())
