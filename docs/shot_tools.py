"""What the screenshot scripts share: waiting on Qt's event loop for the app to get somewhere."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEventLoop, QTimer


def wait(ms: int) -> None:
    """Let the app run for ``ms`` milliseconds."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(predicate: Callable[[], object], timeout_ms: int = 120_000) -> None:
    """Let the app run until ``predicate()`` is true (or the time is up)."""
    waited = 0
    while not predicate() and waited < timeout_ms:
        wait(50)
        waited += 50
