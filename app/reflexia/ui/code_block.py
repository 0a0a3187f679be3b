"""Code in a message: a block with its language and a Copy button, and the labels that show text.

``FrozenLabel`` is the rich-text label every finished part of a message is shown in; it
caches its heights, so a long conversation is laid out once. ``CodeBlockView`` shows a
top-level code block: plain while it streams, highlighted once complete.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QSize, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QCursor, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from reflexia.ui.markdown_html import COPY_LINK, ColorScheme, code_to_html

COPIED_FEEDBACK_MS = 1500
_LINK_SCHEMES = ("http", "https", "mailto")  # what a link in a model's reply may open


def open_link(href: str, codes: Sequence[str]) -> None:
    """A link in a message was activated: copy a code block, or open a web link."""
    if href.startswith(COPY_LINK):
        index = int(href.removeprefix(COPY_LINK))
        if 0 <= index < len(codes):
            QGuiApplication.clipboard().setText(codes[index])
            QToolTip.showText(QCursor.pos(), "Copied")
        return
    url = QUrl(href)
    if url.scheme() in _LINK_SCHEMES and confirm_link(url):
        QDesktopServices.openUrl(url)


def confirm_link(url: QUrl) -> bool:
    """Ask before opening a link from a reply: its text may come from an untrusted document.

    The dialog shows the whole address, so a link whose text names one site and whose
    target is another is seen for what it is.
    """
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Open link?",
        "This link in the reply opens:",
        QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Cancel,
    )
    box.setObjectName("confirmLink")
    box.setInformativeText(url.toDisplayString())
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return box.exec() == QMessageBox.StandardButton.Open


def small_button(text: str, object_name: str, tooltip: str) -> QPushButton:
    """A small text button of a message (Copy, Edit): a pointing hand, and no focus frame after a click."""
    button = QPushButton(text)
    button.setObjectName(object_name)
    button.setToolTip(tooltip)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
    return button


def flash_copied(button: QPushButton) -> None:
    """Say "Copied" on a Copy button for a moment."""
    button.setText("Copied")
    QTimer.singleShot(COPIED_FEEDBACK_MS, button, lambda: button.setText("Copy"))


def size_hint_stand_in() -> QSize:
    """The size hint of a part of the chat that is always given its width."""
    # Qt's own answer for a widget with a height-for-width layout lays all its text out at a width
    # the column never gives; the column asks heightForWidth at the width it does give.
    return QSize(480, 48)


def setup_body(label: QLabel, object_name: str = "bubbleBody") -> QLabel:
    """Make ``label`` a wrapped rich-text body with selectable text and clickable links."""
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
        setup_body(self, object_name)
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
        open_link(href, self.codes)

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
        self.copy_button = small_button("Copy", "copyCodeButton", "Copy the code")
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
        """A stand-in (see ``size_hint_stand_in``)."""
        return size_hint_stand_in()

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
            self._live_label = setup_body(QLabel(), "codeBody")
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
        flash_copied(self.copy_button)
