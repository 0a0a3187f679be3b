"""A non-modal message strip above the chat: errors, warnings, notices."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from reflexia.ui.markup import Markup, set_label_text

BannerKind = Literal["error", "warning", "info"]


class Banner(QFrame):
    """Shows one message until the user closes it or a newer one replaces it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.label = QLabel()
        self.label.setObjectName("bannerText")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setObjectName("bannerClose")
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        self.action_button = QPushButton()
        self.action_button.setObjectName("bannerAction")
        self.action_button.clicked.connect(self._run_action)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(14, 8, 8, 8)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button, 0, Qt.AlignmentFlag.AlignVCenter)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.kind: BannerKind = "info"
        self.topic = ""  # who the message is about ("governor"), so it can go when that is over
        self._action: Callable[[], None] | None = None
        self.hide()

    def show_message(
        self,
        text: Markup | str,
        kind: BannerKind = "info",
        action: tuple[str, Callable[[], None]] | None = None,
        *,
        topic: str = "",
    ) -> None:
        """Show ``text`` styled by ``kind``, with an optional (label, callback) button.

        Plain ``str`` is shown as written (an error's text, a file name); only :class:`Markup`
        (built by ``markup()``, which escapes every value) is rich text. ``topic`` names what
        the message is about, for :meth:`dismiss`.
        """
        self.kind = kind
        self.topic = topic
        self._action = action[1] if action else None
        self.action_button.setText(action[0] if action else "")
        self.action_button.setVisible(action is not None)
        self.setProperty("kind", kind)
        self.style().unpolish(self)
        self.style().polish(self)
        set_label_text(self.label, text)
        self.show()

    def dismiss(self, topic: str) -> None:
        """Hide the message if it is about ``topic`` (it no longer applies)."""
        if self.topic == topic:
            self.hide()

    def _run_action(self) -> None:
        action, self._action = self._action, None
        self.hide()
        if action is not None:
            action()
