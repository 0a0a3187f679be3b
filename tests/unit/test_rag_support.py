"""Helpers shared by the document-index tests: the embedder, and real PDF and Word files.

The embedder is loaded once per test process (about 5 s) and shared, whichever test module
asks first. PDFs are written with pypdf's own objects (a Helvetica text layer, an image for a
scanned page, bookmarks, encryption), Word files with python-docx: real files the loaders read
as a user's would be read.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from reflexia.core.rag.embedder import Embedder


@functools.cache
def shared_embedder() -> Embedder:
    """all-MiniLM-L6-v2, loaded once for every test that needs it."""
    embedder = Embedder()
    embedder.load()
    return embedder


def _pdf_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"({escaped})".encode("latin-1", errors="replace")


def write_pdf(
    path: Path,
    pages: Sequence[str | None],
    *,
    bookmarks: Sequence[tuple[str, int]] = (),
    user_password: str | None = None,
    owner_password: str | None = None,
) -> Path:
    """A PDF whose pages hold the given text, or only an image where a page is ``None`` (a scan).

    Args:
        path: Where to write it.
        pages: Text of each page (lines split on ``\\n``); ``None`` for a page with an image and no text.
        bookmarks: (title, page index) entries of the outline.
        user_password: Encrypt so that opening needs this password ("" opens without one).
        owner_password: The owner password when encrypting.
    """
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DecodedStreamObject, DictionaryObject, NameObject, NumberObject

    writer = PdfWriter()
    font = writer._add_object(
        DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
                NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
            }
        )
    )
    for text in pages:
        page = writer.add_blank_page(612, 792)
        content = DecodedStreamObject()
        if text is None:
            image = DecodedStreamObject()
            image.set_data(bytes(range(256)) * 16)  # 64x64 grey levels: a picture, no text layer
            image.update(
                {
                    NameObject("/Type"): NameObject("/XObject"),
                    NameObject("/Subtype"): NameObject("/Image"),
                    NameObject("/Width"): NumberObject(64),
                    NameObject("/Height"): NumberObject(64),
                    NameObject("/ColorSpace"): NameObject("/DeviceGray"),
                    NameObject("/BitsPerComponent"): NumberObject(8),
                }
            )
            resources = {
                NameObject("/XObject"): DictionaryObject({NameObject("/Im1"): writer._add_object(image)})
            }
            content.set_data(b"q 400 0 0 400 100 200 cm /Im1 Do Q")
        else:
            resources = {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
            lines = b" T* ".join(_pdf_string(line) + b" Tj" for line in text.split("\n"))
            content.set_data(b"BT /F1 11 Tf 14 TL 72 740 Td " + lines + b" ET")
        page[NameObject("/Resources")] = DictionaryObject(resources)
        page[NameObject("/Contents")] = writer._add_object(content)
        page[NameObject("/ProcSet")] = ArrayObject()
    for title, index in bookmarks:
        writer.add_outline_item(title=title, page_number=index)
    if user_password is not None:
        writer.encrypt(user_password, owner_password or "owner", algorithm="RC4-128")
    with path.open("wb") as file:
        writer.write(file)
    return path


def write_docx(path: Path, blocks: Sequence[tuple[str, str]]) -> Path:
    """A Word file from (style, text) blocks: ``title``, ``h1``-``h3``, ``p``, or ``table`` ("a|b;c|d")."""
    import docx

    document = docx.Document()
    for style, text in blocks:
        if style == "title":
            document.add_heading(text, 0)
        elif style.startswith("h"):
            document.add_heading(text, int(style[1:]))
        elif style == "table":
            rows = [row.split("|") for row in text.split(";")]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
        else:
            document.add_paragraph(text)
    document.save(str(path))
    return path
