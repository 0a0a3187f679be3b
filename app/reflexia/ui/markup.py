"""The one way to put text from files, models, servers and errors on screen.

Such text is data: a file named ``<img src=/dev/zero>`` must show those characters, never an
image Qt loads on the GUI thread. Qt also guesses: a "plain" QLabel turns rich when a tag shows up
early in its text. So labels are plain text unless they are given :class:`Markup`, and Markup is
only made by :func:`markup`, which escapes every value it fills in.

Values are also made fit to show: bidirectional controls (a name that reads ``exe.txt`` while it is
``txt.exe``) are shown as visible marks, other control characters as spaces, and very long values
are cut in the middle, so a 10,000-character name cannot push a window off the screen.
"""

from __future__ import annotations

import html
import re
from typing import Final

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

#: The longest value shown whole; longer ones keep their start and end.
LONGEST_VALUE: Final = 300
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


class Markup(str):
    """Qt rich text whose every value was escaped by :func:`markup`."""

    __slots__ = ()


def shown(value: object, *, limit: int = LONGEST_VALUE) -> str:
    """``value`` as text fit for a label: bidi controls made visible, controls blanked, long cut short."""
    text = _CONTROL.sub(" ", _BIDI.sub("\N{REPLACEMENT CHARACTER}", str(value)))
    if len(text) > limit:
        keep = (limit - 1) // 2
        text = f"{text[:keep]}…{text[-keep:]}"
    return text


def markup(template: str, *values: object, **named: object) -> Markup:
    """Fill ``template`` (our own rich text, ``str.format`` fields) with escaped values.

    A value that is already :class:`Markup` goes in as it is; anything else is shown as text.
    """

    def escaped(value: object) -> str:
        return value if isinstance(value, Markup) else html.escape(shown(value), quote=True)

    return Markup(template.format(*map(escaped, values), **{k: escaped(v) for k, v in named.items()}))


def join_markup(separator: str, parts: list[Markup]) -> Markup:
    """Markup pieces joined by our own ``separator`` (e.g. ``<br>``)."""
    return Markup(separator.join(parts))


def tooltip_text(text: str) -> Markup:
    """A tooltip that shows ``text`` as written (Qt renders a tooltip as rich text when it looks like it)."""
    return markup("<p style='white-space:pre-wrap'>{}</p>", text)


def set_label_text(label: QLabel, text: Markup | str) -> None:
    """Show ``text`` in ``label``: rich only when it is :class:`Markup`, else exactly as written."""
    if isinstance(text, Markup):
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setText(text)
    else:
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setText(shown(text, limit=4 * LONGEST_VALUE))


def plain_label(text: str = "") -> QLabel:
    """A label that shows text as written, whatever it contains."""
    label = QLabel()
    set_label_text(label, text)
    return label
