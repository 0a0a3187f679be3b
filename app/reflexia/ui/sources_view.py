"""The sources under a grounded answer: which document, which page, a snippet, how relevant.

Built from the same records the history stores (``SearchHit.to_json_dict``), so a reply
shows the same sources when it is made and when its conversation is opened again.
A click opens the file at that page (a PDF viewer reads ``#page=N``).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

SNIPPET_CHARACTERS = 180


def source_url(source: Mapping[str, object]) -> QUrl:
    """The file of a source as a URL, at its page for a PDF."""
    path = Path(str(source.get("source", "")))
    url = QUrl.fromLocalFile(str(path))
    page = source.get("page")
    if isinstance(page, int) and path.suffix.lower() == ".pdf":
        url.setFragment(f"page={page}")
    return url


def snippet(text: str, limit: int = SNIPPET_CHARACTERS) -> str:
    """The start of a passage on one line, cut at a word."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + "…"


class SourcesView(QFrame):
    """The list of sources of one reply, or why there are none."""

    def __init__(
        self,
        sources: Sequence[Mapping[str, object]] | None,
        note: str = "",
        parent: QWidget | None = None,
    ) -> None:
        """Show ``sources`` (None: documents were not searched) and ``note`` (why not, or what happened)."""
        super().__init__(parent)
        self.setObjectName("sourcesView")
        self.sources = list(sources or [])
        self.links: list[QLabel] = []
        column = QVBoxLayout(self)
        column.setContentsMargins(10, 6, 10, 6)
        column.setSpacing(4)
        if note or not self.sources:
            self.note = QLabel(
                note or "Nothing relevant was found in your documents: this answer does not come from them."
            )
            self.note.setObjectName("sourcesNote")
            self.note.setWordWrap(True)
            column.addWidget(self.note)
        if not self.sources:
            return
        heading = QLabel("Sources")
        heading.setObjectName("sourcesHeading")
        column.addWidget(heading)
        for number, source in enumerate(self.sources, 1):
            path = Path(str(source.get("source", "")))
            where = html.escape(path.name)
            page = source.get("page")
            if isinstance(page, int):
                where += f", page {page}"
            score = source.get("score")
            relevance = f" · {float(score):.0%} match" if isinstance(score, int | float) else ""
            text = snippet(str(source.get("text", "")))
            link = QLabel(
                f'[{number}] <a href="{source_url(source).toString()}">{where}</a>'
                f'<span style="color:gray">{relevance}</span><br><i>{html.escape(text)}</i>'
            )
            link.setObjectName("sourceLink")
            link.setWordWrap(True)
            link.setToolTip(str(path))
            link.linkActivated.connect(self._open)
            column.addWidget(link)
            self.links.append(link)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        """Colour the links for a new theme (rich text takes the palette's link colour when set)."""
        if event.type() == QEvent.Type.PaletteChange:
            for link in self.links:
                text = link.text()
                link.clear()
                link.setText(text)
        super().changeEvent(event)

    @Slot(str)
    def _open(self, href: str) -> None:
        QDesktopServices.openUrl(QUrl(href))
