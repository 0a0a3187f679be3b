"""A combo box that can be narrower than its longest item: it elides the current one to fit.

Qt's combo box is never narrower than its longest item (``AdjustToContentsOnFirstShow``) and,
made narrower, cuts the text off at the right: in the window's header, the model menu pushed
the role menu over itself, and its fit verdict, at the end of each item, was cut off.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QComboBox, QSizePolicy, QStyle, QStyleOptionComboBox, QStylePainter, QWidget


class ElidingComboBox(QComboBox):
    """As wide as its longest item when there is room, ``min_chars`` characters at least.

    It paints ``shown_text()``: the current item, elided to the width it has.
    """

    def __init__(self, parent: QWidget | None = None, *, min_chars: int) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(min_chars)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.view().setTextElideMode(Qt.TextElideMode.ElideMiddle)  # a narrow popup keeps both ends

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        """Wide enough for the longest item (up to the maximum width); the minimum stays ``min_chars``."""
        hint = super().sizeHint()
        metrics = self.fontMetrics()
        # Qt's hint holds min_chars times the width of an "x"; put the longest item there instead.
        room = self.minimumContentsLength() * metrics.horizontalAdvance("x")
        longest = max((metrics.horizontalAdvance(self.itemText(i)) for i in range(self.count())), default=0)
        hint.setWidth(min(self.maximumWidth(), hint.width() - room + max(room, longest)))
        return hint

    def elide(self, text: str, width: int) -> str:
        """``text`` as it fits in ``width`` pixels (cut at the right; subclasses keep what matters)."""
        return self.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, width)

    def text_width(self) -> int:
        """The pixels the current item's text is painted in (the edit field, less the style's margin)."""
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        field = self.style().subControlRect(
            QStyle.ComplexControl.CC_ComboBox, option, QStyle.SubControl.SC_ComboBoxEditField, self
        )
        return max(0, field.width() - 2)

    def shown_text(self) -> str:
        """The current item's text as painted at the box's width now."""
        return self.elide(self.currentText(), self.text_width())

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        """Paint as QComboBox does, with the elided text."""
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        option.currentText = self.shown_text()
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)
