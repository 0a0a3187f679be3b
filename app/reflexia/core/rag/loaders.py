"""Reading documents: the text of a file with its location (file, page, heading).

Supported: plain text, Markdown, reStructuredText, PDF (page by page), Word (.docx),
HTML and common source-code and configuration files. Every way a file can fail
(gone, unreadable, too large, empty, binary, encrypted, damaged, scanned) raises a
:class:`DocumentError` with its own message, so a batch reports it and goes on.
"""

from __future__ import annotations

import os
import re
import stat as stat_module
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from reflexia.core.rag.docx_text import docx_sections
from reflexia.core.rag.errors import DocumentError
from reflexia.core.rag.html_text import html_sections
from reflexia.core.rag.pdf_text import pdf_sections
from reflexia.core.rag.sections import DocumentSection
from reflexia.core.rag.text_formats import (
    decode_text,
    markdown_sections,
    plain_sections,
    rst_sections,
)
from reflexia.core.units import MB, human_size

DocumentKind = Literal["text", "markdown", "rst", "pdf", "docx", "html", "code"]

_TEXT_SUFFIXES: dict[str, DocumentKind] = {
    ".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown", ".rst": "rst",
    ".html": "html", ".htm": "html", ".xhtml": "html", ".pdf": "pdf", ".docx": "docx",
}  # fmt: skip
_CODE_SUFFIXES = frozenset((
    ".py", ".pyi", ".js", ".jsx", ".mjs", ".ts", ".tsx", ".java", ".kt", ".kts", ".scala", ".groovy",
    ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".hh", ".m", ".mm", ".cs", ".fs", ".go", ".rs", ".swift",
    ".rb", ".php", ".pl", ".pm", ".lua", ".r", ".jl", ".dart", ".ex", ".exs", ".erl", ".hs", ".clj",
    ".elm", ".zig", ".nim", ".sql", ".sh", ".bash", ".zsh", ".fish", ".ps1", ".bat", ".css", ".scss",
    ".less", ".vue", ".svelte", ".toml", ".yaml", ".yml", ".ini", ".cfg", ".tex", ".cmake", ".gradle",
    ".proto", ".graphql",
))  # fmt: skip
#: Every file name ending that is indexed (lower case), and the kind of document it is.
SUPPORTED_SUFFIXES: dict[str, DocumentKind] = {
    **_TEXT_SUFFIXES,
    **{suffix: "code" for suffix in _CODE_SUFFIXES},
}
_NAME_SEPARATORS = re.compile(r"[_\-.]+")
# File names indexed as text although they have no known suffix.
_TEXT_NAMES = frozenset({"readme", "license", "changelog", "makefile", "dockerfile", "notice", "authors"})
# Folders nobody means when they drop a project folder: tools' caches, dependencies, version control.
_SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__", "site-packages", "venv"})


@dataclass(frozen=True)
class LoaderLimits:
    """How large a file may be before it is refused (a clear error instead of minutes of work).

    Attributes:
        max_text_bytes: Text, Markdown, HTML and source files, which are read whole.
        max_file_bytes: PDF and Word files, whose size is mostly images.
    """

    max_text_bytes: int = 20 * MB
    max_file_bytes: int = 200 * MB


DEFAULT_LIMITS = LoaderLimits()


@dataclass(frozen=True)
class LoadedDocument:
    """The text of one file, in sections that each know their page and heading.

    Attributes:
        path: The file, absolute.
        kind: What sort of document it is.
        sections: Its text, in reading order; never empty.
        pages: How many pages it has (PDF only).
    """

    path: Path
    kind: DocumentKind
    sections: tuple[DocumentSection, ...]
    pages: int | None = None

    @property
    def title(self) -> str:
        """The document's name as people read it: the file name without extension, separators as spaces."""
        return " ".join(_NAME_SEPARATORS.sub(" ", self.path.stem).split()) or self.path.name


def document_kind(path: Path) -> DocumentKind | None:
    """The kind of document a file name says it is, or ``None`` when it is not indexed."""
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind is None and not path.suffix and path.name.lower() in _TEXT_NAMES:
        return "text"
    return kind


def _check_size(path: Path, size: int, limit: int) -> None:
    if size == 0:
        raise DocumentError(path, "empty", "is empty (0 bytes)")
    if size > limit:
        raise DocumentError(
            path, "too_large",
            f"is {human_size(size)}, over the {human_size(limit)} limit for this kind of file; "
            "split it into smaller files",
        )  # fmt: skip


def _text_sections(kind: DocumentKind) -> Callable[[str], list[DocumentSection]]:
    return {"markdown": markdown_sections, "rst": rst_sections, "html": html_sections}.get(
        kind, plain_sections
    )


def check_file(path: Path, limits: LoaderLimits = DEFAULT_LIMITS) -> tuple[DocumentKind, os.stat_result]:
    """The checks that need no reading: a supported kind, a file that exists, not empty, not too large.

    Returns:
        The kind of document and the file's status (size, modification time).

    Raises:
        DocumentError: the file is unsupported, gone, unreadable, empty or too large.
    """
    kind = document_kind(path)
    if kind is None:
        raise DocumentError(
            path, "unsupported", f"is not a kind of document Reflexia reads ({path.suffix or 'no extension'})"
        )
    try:
        stat = path.stat()
    except OSError as exc:
        raise DocumentError.from_os_error(path, exc) from exc
    if stat_module.S_ISDIR(stat.st_mode):
        raise DocumentError(path, "unreadable", "is a folder, not a file")
    limit = limits.max_file_bytes if kind in ("pdf", "docx") else limits.max_text_bytes
    _check_size(path, stat.st_size, limit)
    return kind, stat


def load_document(path: Path, limits: LoaderLimits = DEFAULT_LIMITS) -> LoadedDocument:
    """Read one file into sections of text with their locations.

    Args:
        path: The file.
        limits: Size limits; the defaults suit a desktop.

    Raises:
        DocumentError: the file cannot be indexed; ``problem`` says why and the message how.
    """
    path = path.absolute()
    kind, _ = check_file(path, limits)
    try:
        if kind == "pdf":
            sections, pages = pdf_sections(path)
            return LoadedDocument(path, kind, tuple(sections), pages)
        if kind == "docx":
            return LoadedDocument(path, kind, tuple(_nonempty(path, docx_sections(path))))
        with path.open("rb") as file:
            data = file.read(limits.max_text_bytes + 1)  # never more than the limit, even if it grew
    except OSError as exc:
        raise DocumentError.from_os_error(path, exc) from exc
    _check_size(path, len(data), limits.max_text_bytes)
    sections = _text_sections(kind)(decode_text(path, data))
    return LoadedDocument(path, kind, tuple(_nonempty(path, sections)))


def _nonempty(path: Path, sections: list[DocumentSection]) -> list[DocumentSection]:
    if not sections:
        raise DocumentError(path, "empty", "has no text to index")
    return sections


def _wanted_folder(name: str) -> bool:
    return not name.startswith(".") and name not in _SKIPPED_FOLDERS


def find_documents(paths: Iterable[Path]) -> tuple[list[Path], list[DocumentError]]:
    """The documents to index among files and folders given by the user (folders are searched recursively).

    A file given by name is always taken (an unsupported one fails when read, so the user
    hears why); in folders only supported files are taken, and hidden files and folders,
    dependency folders and caches are passed over. Symbolic links to folders are not followed.

    Returns:
        The files, absolute, each once, in a stable order; and an error for each path that does not exist.
    """
    found: dict[Path, None] = {}
    missing: list[DocumentError] = []
    for given in paths:
        path = given.expanduser().absolute()
        if path.is_dir():
            for folder, folders, files in os.walk(path):
                folders[:] = sorted(name for name in folders if _wanted_folder(name))
                for name in sorted(files):
                    candidate = Path(folder) / name
                    if not name.startswith(".") and document_kind(candidate) is not None:
                        found[candidate] = None
        elif path.exists() or path.is_symlink():
            found[path] = None
        else:
            missing.append(DocumentError(path, "missing", "does not exist"))
    return list(found), missing
