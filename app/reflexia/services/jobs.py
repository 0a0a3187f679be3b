"""Short one-off jobs on the global thread pool, with one signal vocabulary.

started -> returned(value) | failed(error) -> finished, as superqt's
``thread_worker`` does. Emitted from a pool thread; Qt queues them to the
receivers' threads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal

from reflexia.core.errors import as_user_error

log = logging.getLogger(__name__)


class Job(QObject):
    """One call of ``function(*args)`` off the GUI thread.

    Signals:
        started(), returned(object), failed(ReflexiaError), finished().
    """

    started = Signal()
    returned = Signal(object)
    failed = Signal(object)
    finished = Signal()

    def __init__(self, name: str, function: Callable[..., Any], *args: Any, tag: object = None) -> None:
        super().__init__()
        self.name = name
        self.tag = tag  # what the receiver needs to know about this job (read via sender())
        self._function = function
        self._args = args

    def start(self) -> None:
        """Queue the job on the global thread pool.

        Receivers of its signals must be ``@Slot`` methods of QObjects: the signals are
        emitted on a pool thread and Qt queues them to the receiver's thread.
        """
        QThreadPool.globalInstance().start(self._run)

    def _run(self) -> None:
        self.started.emit()
        try:
            value = self._function(*self._args)
        except Exception as exc:  # every job ends in returned or failed, whatever was raised
            self.failed.emit(as_user_error(exc, self.name.lower()))
        else:
            self.returned.emit(value)
        finally:
            self.finished.emit()
