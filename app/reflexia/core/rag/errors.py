"""Errors of the document pipeline, each a one-line message a user can act on.

A :class:`DocumentError` is about one file and never stops a batch: the index records it
against that file and carries on. :class:`DocumentIndexError` and :class:`EmbedderError`
are about the whole index and end the operation.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Literal

from reflexia.core.errors import ReflexiaError

#: Why a document could not be read; the UI may pick an icon or a hint from it.
DocumentProblem = Literal[
    "unsupported",  # not a kind of file the loaders know
    "missing",  # a path given to index that does not exist
    "vanished",  # gone between listing and reading (moved or deleted)
    "unreadable",  # the operating system refused to read it (permissions, a folder, I/O error)
    "too_large",  # over the configured size limit
    "empty",  # no bytes, or only white space
    "binary",  # a text extension on content that is not text
    "encrypted",  # a password-protected PDF or Word file
    "broken",  # damaged or not what its extension says
    "no_text",  # a PDF without a text layer (scanned pages)
]


class DocumentError(ReflexiaError):
    """One document cannot be indexed; the message names the file and the reason.

    Attributes:
        path: The file.
        problem: The reason in one word, for code that reacts to it (see ``DocumentProblem``).
        detail: The reason in words, without the path.
    """

    def __init__(self, path: Path, problem: DocumentProblem, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path = path
        self.problem: DocumentProblem = problem
        self.detail = detail

    @classmethod
    def from_os_error(cls, path: Path, error: OSError) -> DocumentError:
        """The document error for an operating-system error met while reading ``path``."""
        if isinstance(error, FileNotFoundError):
            return cls(path, "vanished", "is no longer there (moved or deleted while indexing)")
        if isinstance(error, PermissionError):
            return cls(path, "unreadable", "cannot be read: permission denied")
        if isinstance(error, IsADirectoryError) or error.errno == errno.EISDIR:
            return cls(path, "unreadable", "is a folder, not a file")
        return cls(path, "unreadable", f"cannot be read ({error.strerror or error})")


class DocumentIndexError(ReflexiaError):
    """The document index cannot be opened, read or changed, or has no such collection."""


class EmbedderError(ReflexiaError):
    """The embeddings model cannot be loaded or run."""
