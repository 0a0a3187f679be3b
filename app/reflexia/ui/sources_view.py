"""The sources under a grounded answer: which document, which page, a snippet, how relevant.

Built from the same records the history stores (``SearchHit.to_json_dict``), so a reply
shows the same sources when it is made and when its conversation is opened again.
A click opens the file at that page (a PDF viewer reads ``#page=N``). Sources come from documents
and the history, so they are shown as text: a link's address is only the source's number here, and
what opens is always a local file (a missing one, or one no app opens, is said under the sources).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import QEvent, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from reflexia.ui.markup import markup, plain_label, set_label_text, shown, tooltip_text

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
            self.note = plain_label(
                note or "Nothing relevant was found in your documents: this answer does not come from them."
            )
            self.note.setObjectName("sourcesNote")
            self.note.setWordWrap(True)
            column.addWidget(self.note)
        self.problem = plain_label()  # a file that could not be opened
        self.problem.setObjectName("sourcesProblem")
        self.problem.setWordWrap(True)
        self.problem.hide()
        if not self.sources:
            return
        heading = QLabel("Sources")
        heading.setObjectName("sourcesHeading")
        column.addWidget(heading)
        for number, source in enumerate(self.sources, 1):
            path = Path(str(source.get("source", "")))
            page = source.get("page")
            where = f"{shown(path.name)}, page {page}" if isinstance(page, int) else path.name
            score = source.get("score")
            relevance = f" · {float(score):.0%} match" if isinstance(score, int | float) else ""
            text = snippet(str(source.get("text", "")))
            link = QLabel()
            set_label_text(
                link,
                markup(
                    '[{0}] <a href="source:{0}">{1}</a><span style="color:gray">{2}</span><br><i>{3}</i>',
                    number,
                    where,
                    relevance,
                    text,
                ),
            )
            link.setObjectName("sourceLink")
            link.setWordWrap(True)
            link.setToolTip(tooltip_text(str(path)))
            link.linkActivated.connect(self._open)
            column.addWidget(link)
            self.links.append(link)
        column.addWidget(self.problem)

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
        """Open source number N (``source:N``) as a local file, or say why it cannot be."""
        number = int(href.removeprefix("source:")) if href.removeprefix("source:").isdigit() else 0
        if not 1 <= number <= len(self.sources):
            return
        source = self.sources[number - 1]
        path = Path(str(source.get("source", "")))
        if not path.is_file():
            problem = f"{path.name} cannot be opened: it is no longer at {path.parent}."
        elif not QDesktopServices.openUrl(source_url(source)):
            kind = path.suffix or "such"
            problem = f"{path.name} cannot be opened: no app on this computer opens {kind} files."
        else:
            self.problem.hide()
            return
        set_label_text(self.problem, problem)
        self.problem.setToolTip(tooltip_text(str(path)))
        self.problem.show()
