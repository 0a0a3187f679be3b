"""Word documents (.docx): paragraphs and tables in reading order, split at heading styles.

python-docx is imported on first use: most sessions never read a Word file.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from reflexia.core.rag.errors import DocumentError
from reflexia.core.rag.sections import DocumentSection, HeadingTrail, SectionBuilder

# An OLE compound file: what Word writes for a password-protected document (and for old .doc files).
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADING_STYLE = re.compile(r"^Heading (\d)$")


def _heading_level(style_name: str) -> int | None:
    if style_name == "Title":
        return 0
    found = _HEADING_STYLE.match(style_name)
    return int(found.group(1)) if found else None


def docx_sections(path: Path) -> list[DocumentSection]:
    """The text of a Word document, one section per heading (styles ``Title`` and ``Heading N``).

    Raises:
        DocumentError: the file is password-protected (``encrypted``) or not a readable
            Word document (``broken``).
    """
    with path.open("rb") as file:
        if file.read(len(_OLE_MAGIC)) == _OLE_MAGIC:
            raise DocumentError(
                path, "encrypted", "is password-protected (or a Word 97–2003 file renamed .docx); "
                "save it again without a password as .docx",
            )  # fmt: skip
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(str(path))
        blocks = list(document.iter_inner_content())
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise DocumentError(path, "broken", f"is not a readable Word document ({exc})") from exc
    except Exception as exc:  # lxml and zipfile raise many types on damaged parts; all mean the same
        raise DocumentError(path, "broken", f"is damaged and cannot be read ({exc})") from exc
    builder = SectionBuilder()
    trail = HeadingTrail()
    for block in blocks:
        if isinstance(block, Table):
            for row in block.rows:
                cells: list[str] = []
                for cell in row.cells:  # a merged cell repeats in every column it spans
                    text = " ".join(cell.text.split())
                    if text and (not cells or cells[-1] != text):
                        cells.append(text)
                if cells:
                    builder.add_line(" | ".join(cells))
            builder.add_line("")
            continue
        level = _heading_level(block.style.name if block.style is not None and block.style.name else "")
        if level is not None and block.text.strip():
            builder.start(trail.enter(level, block.text))
        else:
            builder.add_line(block.text)
            builder.add_line("")  # each Word paragraph is a paragraph
    return builder.sections()
