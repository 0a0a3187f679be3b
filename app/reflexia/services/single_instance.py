"""One running Reflexia per user and data folder: a second launch hands over and exits.

The first instance takes a lock file in the data folder, then listens on a local socket (a
short name: macOS allows 104 bytes for the whole socket path). A later launch finds the lock
held, connects, says what it was asked for ("show" or "quick"), waits for the answer, and
exits; the running instance comes to the front or opens its quick prompt. The lock, not the
socket's silence, says whether an instance runs: one still starting (its GUI thread busy)
answers late, so a second launch waits for it, boundedly, and never removes its socket. A
lock left by a crash names a dead process: Qt's QLockFile sees it is stale and the new launch
takes it, removes the dead socket and listens.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import time

from PySide6.QtCore import QDeadlineTimer, QLockFile, QObject, Signal, Slot
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

from reflexia.core.config import paths
from reflexia.core.errors import ReflexiaError

log = logging.getLogger(__name__)

#: What a second launch may ask of the running instance.
REQUESTS = frozenset({"show", "quick", "background"})
#: How long a launch waits for a running instance to answer (one still starting answers late).
HAND_OVER_WAIT_S = 30.0
_TIMEOUT_MS = 1500
_RETRY_S = 0.1
#: A lock holder that has not listened after this long is no running Reflexia (its pid was reused).
_LISTEN_GRACE_S = 5.0


class InstanceNotAnsweringError(ReflexiaError):
    """Another Reflexia holds the lock but took no request in time (hung, or still starting)."""


def instance_name() -> str:
    """The socket name for this user and data folder (two REFLEXIA_HOMEs may each run one)."""
    key = f"{getpass.getuser()}:{paths.data_dir()}".encode()
    return f"reflexia-{hashlib.sha256(key).hexdigest()[:12]}"


class SingleInstance(QObject):
    """The running instance's lock and end of the socket, and a second launch's way to reach it.

    Signals:
        requested(str): a second launch asked for "show", "quick" or "background".
    """

    requested = Signal(str)

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.name = name or instance_name()
        self._lock_path = paths.data_dir() / f"{self.name}.lock"
        self._lock = QLockFile(str(self._lock_path))
        self._lock.setStaleLockTime(0)  # stale only when its process is gone: an instance runs for days
        self._lock_failed = False  # no lock could be made at all: the socket alone decides
        self._server = QLocalServer(self)
        self._server.newConnection.connect(self._on_connection)

    def hand_over(self, request: str = "show", wait_s: float = HAND_OVER_WAIT_S) -> bool:
        """Pass ``request`` to a running instance; True if one took it (then this launch exits).

        False means none runs: this launch now holds the lock and should :meth:`listen`.
        Raises InstanceNotAnsweringError if one runs but answers nobody within ``wait_s``.
        """
        deadline = QDeadlineTimer(int(wait_s * 1000))
        refused_since: float | None = None
        while not self._claim():
            if refused_since is None:
                log.info("another Reflexia runs (%s): handing %r over", self._holder(), request)
            if self._ask(request, deadline):
                return True
            if deadline.hasExpired():
                raise InstanceNotAnsweringError(
                    f"another Reflexia ({self._holder()}) is running but did not answer in {wait_s:.0f} s; "
                    "quit it or end that process"
                )
            refused_since = refused_since or time.monotonic()
            if time.monotonic() - refused_since > _LISTEN_GRACE_S:
                # A holder listens at once; one that never does, yet whose file lock is free, is a
                # dead run whose pid another program now has (removal fails while Reflexia holds it).
                holder = self._holder()
                if self._lock.removeStaleLockFile():
                    log.info("removed the instance lock of %s: that process is not Reflexia", holder)
            time.sleep(_RETRY_S)
        if self._lock_failed:  # no lock to go by: the old rule, a silent socket is stale
            return self._ask(request, QDeadlineTimer(_TIMEOUT_MS))
        return False

    def listen(self) -> bool:
        """Become the running instance; a stale socket from a crash is removed first.

        Call only after :meth:`hand_over` returned False: this launch holds the lock, so a
        socket already there belongs to a process that is gone.
        """
        if self._server.listen(self.name):
            return True
        if self._server.serverError() == QAbstractSocket.SocketError.AddressInUseError:
            log.info("removing the stale instance socket %s (a previous run crashed)", self.name)
            QLocalServer.removeServer(self.name)
            if self._server.listen(self.name):
                return True
        log.warning("cannot listen for other launches on %s: %s", self.name, self._server.errorString())
        return False

    def close(self) -> None:
        """Stop listening and give the lock back (at quit)."""
        self._server.close()
        self._lock.unlock()

    def _claim(self) -> bool:
        """Take the lock; True if no other live instance holds it (a crashed one's is stale)."""
        if self._lock_failed:
            return True
        try:
            self._lock_path.parent.mkdir(parents=True, exist_ok=True)  # the first launch ever
        except OSError as exc:
            log.warning("cannot create the folder of the instance lock %s: %s", self._lock_path, exc)
        if self._lock.tryLock(0):
            return True
        if self._lock.error() == QLockFile.LockError.LockFailedError:
            return False  # held by a live process
        log.warning("cannot create the instance lock %s (%s)", self._lock_path, self._lock.error().name)
        self._lock_failed = True
        return True

    def _holder(self) -> str:
        """The lock holder as a user would look for it: ``pid 123``."""
        pid, _host, _app = self._lock.getLockInfo()
        return f"pid {pid}" if pid else "its process"

    def _ask(self, request: str, deadline: QDeadlineTimer) -> bool:
        """One connection: send ``request`` and wait until ``deadline`` for "ok".

        One connection per launch, kept open while the instance is busy: a request sent
        on a connection given up would still be read, and acted on, once it is free.
        """
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(_TIMEOUT_MS):
            return False  # not listening yet, or a crashed run's socket
        socket.write(f"{request}\n".encode())
        socket.waitForBytesWritten(_TIMEOUT_MS)
        while not socket.canReadLine() and socket.state() == QLocalSocket.LocalSocketState.ConnectedState:
            if deadline.hasExpired():
                break
            socket.waitForReadyRead(max(1, deadline.remainingTime()))
        answered = socket.canReadLine() and bytes(socket.readLine().data()).startswith(b"ok")
        socket.abort()
        return answered

    @Slot()
    def _on_connection(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(self._on_ready_read)
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._read(socket)

    @Slot()
    def _on_ready_read(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket):
            self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        request = bytes(socket.readLine().data()).decode(errors="replace").strip()
        if request not in REQUESTS:
            socket.write(b"unknown\n")
            return
        socket.write(b"ok\n")
        socket.flush()
        log.info("another launch asked for %r", request)
        self.requested.emit(request)
