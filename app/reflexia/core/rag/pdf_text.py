"""PDF files, page by page with pypdf; the outline (bookmarks), when there is one, gives headings.

pypdf is lenient with damaged files and says so through ``warnings`` and its own logger;
those are silenced here: what matters is reported as a :class:`DocumentError` instead.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reflexia.core.rag.errors import DocumentError
from reflexia.core.rag.sections import DocumentSection, HeadingTrail

if TYPE_CHECKING:
    from pypdf import PdfReader


def _outline_entries(reader: PdfReader) -> list[tuple[int, int, str]]:
    """Bookmarks as (page index, level, title), in page order; none when the outline is unusable."""
    entries: list[tuple[int, int, str]] = []

    def walk(items: list[Any], level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            page = reader.get_destination_page_number(item)
            title = str(getattr(item, "title", "") or "")
            if page is not None and page >= 0 and title.strip():
                entries.append((page, level, title))

    try:
        walk(list(reader.outline), 1)
    except Exception:  # a damaged outline costs the headings, never the text
        return []
    return sorted(entries, key=lambda entry: entry[0])


def _open(path: Path) -> PdfReader:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError

    # pypdf logs each repair it makes ("EOF marker not found"); the outcome is what counts.
    logging.getLogger("pypdf").setLevel(logging.ERROR)

    try:
        reader = PdfReader(path)
    except Exception as exc:  # pypdf raises many types on damaged files; all mean "broken"
        raise DocumentError(path, "broken", f"is not a readable PDF ({exc})") from exc
    if reader.is_encrypted:
        try:
            opened = reader.decrypt("")  # many PDFs are encrypted with an empty password to restrict printing
        except DependencyError as exc:
            raise DocumentError(
                path, "encrypted", f"is encrypted with a method this installation cannot open ({exc})"
            ) from exc
        except Exception as exc:
            raise DocumentError(path, "encrypted", f"is encrypted and cannot be opened ({exc})") from exc
        if not opened:
            raise DocumentError(
                path, "encrypted", "is protected by a password; save a copy without the password to index it"
            )
    return reader


def pdf_sections(path: Path) -> tuple[list[DocumentSection], int]:
    """The text of every page (one section a page, or more where a bookmark starts) and the page count.

    Raises:
        DocumentError: the PDF is damaged (``broken``), password-protected (``encrypted``), or has
            no text on any page (``no_text``, typically a scan without OCR).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = _open(path)
        try:
            page_count = len(reader.pages)
        except Exception as exc:
            raise DocumentError(
                path, "broken", f"is a damaged PDF: its page list cannot be read ({exc})"
            ) from exc
        if page_count == 0:
            raise DocumentError(path, "empty", "is a PDF without pages")
        outline = _outline_entries(reader)
        trail = HeadingTrail()
        sections: list[DocumentSection] = []
        unreadable = 0
        for index in range(page_count):
            while outline and outline[0][0] <= index:
                _, level, title = outline.pop(0)
                trail.enter(level, title)
            try:
                text = reader.pages[index].extract_text() or ""
            except Exception:  # one damaged page should not cost the rest of the document
                unreadable += 1
                continue
            if text.strip():
                sections.append(DocumentSection(text.strip(), index + 1, trail.current()))
    if not sections:
        if unreadable == page_count:
            raise DocumentError(
                path, "broken", f"is a damaged PDF: none of its {page_count} pages can be read"
            )
        pages = "its only page" if page_count == 1 else f"any of its {page_count} pages"
        raise DocumentError(
            path, "no_text", f"has no text layer on {pages} (a scanned document?); run it through OCR first"
        )
    return sections, page_count
