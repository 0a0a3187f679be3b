"""One writer at a time per document index, across processes (the app and ``reflexia index``).

An advisory lock on a file in the index folder, held while documents are added or
removed. The operating system releases it when the holder dies, even by ``kill -9``, so
a crashed writer never blocks the next one. Searching needs no lock.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import IO

from reflexia.core.rag.errors import DocumentIndexError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; one Reflexia process at a time is the rule there
    fcntl = None  # type: ignore[assignment]

LOCK_FILE_NAME = "writer.lock"


class WriterLock:
    """The right to change the index in ``folder``; not re-entrant."""

    def __init__(self, folder: Path) -> None:
        """Name the lock; nothing is taken yet."""
        self.path = folder / LOCK_FILE_NAME
        self._file: IO[str] | None = None

    def __enter__(self) -> WriterLock:
        """Take the lock, or fail at once if another process (or index object) holds it.

        Raises:
            DocumentIndexError: the documents are being changed by someone else.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        file = self.path.open("a+", encoding="utf-8")
        if fcntl is not None:
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                file.seek(0)
                holder = file.read().strip() or "another process"
                file.close()
                raise DocumentIndexError(
                    f"the documents are being changed by {holder}; try again when it has finished"
                ) from exc
        file.seek(0)
        file.truncate()
        file.write(f"Reflexia process {os.getpid()}")
        file.flush()
        self._file = file
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Let the lock go."""
        if self._file is not None:
            self._file.close()  # closing the file releases the lock
            self._file = None
