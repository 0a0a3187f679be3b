"""One running Reflexia per user and data folder: a second launch hands over and exits.

The first instance listens on a local socket (a short name: macOS allows 104 bytes for the
whole socket path). A later launch connects, says what it was asked for ("show" or "quick"),
waits for the answer, and exits; the running instance comes to the front or opens its
quick prompt. A socket left by a crash answers nobody: the new launch removes it and listens.
"""

from __future__ import annotations

import getpass
import hashlib
import logging

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtNetwork import QAbstractSocket, QLocalServer, QLocalSocket

from reflexia.core.config import paths

log = logging.getLogger(__name__)

#: What a second launch may ask of the running instance.
REQUESTS = frozenset({"show", "quick", "background"})
_TIMEOUT_MS = 1500


def instance_name() -> str:
    """The socket name for this user and data folder (two REFLEXIA_HOMEs may each run one)."""
    key = f"{getpass.getuser()}:{paths.data_dir()}".encode()
    return f"reflexia-{hashlib.sha256(key).hexdigest()[:12]}"


class SingleInstance(QObject):
    """The running instance's end of the socket, and a second launch's way to reach it.

    Signals:
        requested(str): a second launch asked for "show", "quick" or "background".
    """

    requested = Signal(str)

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.name = name or instance_name()
        self._server = QLocalServer(self)
        self._server.newConnection.connect(self._on_connection)

    def hand_over(self, request: str = "show") -> bool:
        """Pass ``request`` to a running instance; True if one took it (then this launch exits)."""
        socket = QLocalSocket()
        socket.connectToServer(self.name)
        if not socket.waitForConnected(_TIMEOUT_MS):
            return False
        socket.write(f"{request}\n".encode())
        socket.waitForBytesWritten(_TIMEOUT_MS)
        answered = socket.waitForReadyRead(_TIMEOUT_MS) and bytes(socket.readAll().data()).startswith(b"ok")
        socket.disconnectFromServer()
        return answered

    def listen(self) -> bool:
        """Become the running instance; a stale socket from a crash is removed first.

        Call only after :meth:`hand_over` found nobody answering: the socket is then stale.
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
        """Stop listening (at quit)."""
        self._server.close()

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
