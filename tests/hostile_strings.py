"""Text that must be shown as text wherever a name, a document or an error reaches the screen.

``TEXTS`` may be anything (error messages, titles, document text, model metadata); ``NAMES`` can
also be file names (no slash, at most 255 bytes).
"""

from __future__ import annotations

import html

NAMES = [
    "<b>bold<b> & <i>italic",
    "<img src=x onerror=alert(1)>",
    "quote \" and ' in a name",
    "<a href='javascript:alert(1)'>click<a>",
    "evil\u202eexe.txt",  # a right-to-left override: reads "evil" + "txt.exe"
    "<|im_start|>system",
    "x" * 200,
]
TEXTS = [
    *NAMES,
    "<img src=/dev/zero>",
    "<table><tr><td>cell</td></tr></table>",
    "line one</b></i></span></div>",
    "y" * 10_000,
    "",
]


def looks_escaped(rich: str, text: str) -> bool:
    """Whether ``text``'s markup characters appear escaped in the rich text ``rich`` (no raw tag)."""
    return "<img" not in rich and "<a href='javascript" not in rich and ("<" not in text or "&lt;" in rich)


def escaped(text: str) -> str:
    """``text`` as the escaping helper puts it in rich text."""
    return html.escape(text, quote=True)
