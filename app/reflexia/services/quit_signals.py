"""Ctrl+C and SIGTERM quit the app as the Quit command does: cleanly, with exit status 0.

Python runs signal handlers only between bytecodes, and Qt's event loop runs in C++, so a
handler alone would wait for the next Python call. The signal's number is written to a
socket pair instead (``signal.set_wakeup_fd``) and a ``QSocketNotifier`` wakes the loop.
"""

from __future__ import annotations

import logging
import signal
import socket

from PySide6.QtCore import QObject, QSocketNotifier, Signal, Slot

log = logging.getLogger(__name__)

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class QuitSignals(QObject):
    """Turns SIGINT and SIGTERM into ``quit_requested`` on the GUI thread.

    Signals:
        quit_requested(int): the signal's number.
    """

    quit_requested = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self._reader, self._writer = socket.socketpair()
        for end in (self._reader, self._writer):
            end.setblocking(False)
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno())
        self._previous = {number: signal.signal(number, self._note) for number in _SIGNALS}
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._on_woken)

    @staticmethod
    def _note(_number: int, _frame: object) -> None:
        """The Python-level handler: the wakeup fd already carries the signal."""

    @Slot()
    def _on_woken(self) -> None:
        try:
            data = self._reader.recv(64)
        except BlockingIOError:
            return
        for number in data:
            if number in _SIGNALS:
                log.info("%s received: quitting", signal.Signals(number).name)
                self.quit_requested.emit(number)
                return

    def restore(self) -> None:
        """Give the signals back to their previous handlers (at exit)."""
        self._notifier.setEnabled(False)
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(self._previous_fd)
        self._reader.close()
        self._writer.close()
