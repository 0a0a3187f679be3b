"""The instance lock against a real other process: a live holder is waited for, a dead one is not.

The holder is a child process that takes the lock and listens but never runs its event loop:
a Reflexia whose GUI thread is busy starting, for as long as the test needs.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from pytestqt.qtbot import QtBot

from reflexia.core.config import paths
from reflexia.services.single_instance import InstanceNotAnsweringError, SingleInstance, instance_name

_BUSY_HOLDER = """
import sys, time
from PySide6.QtCore import QCoreApplication
from reflexia.services.single_instance import SingleInstance

app = QCoreApplication(sys.argv)
instance = SingleInstance()  # named after the test's own REFLEXIA_HOME
assert not instance.hand_over()
assert "--no-listen" in sys.argv or instance.listen()
print("holding", flush=True)
time.sleep(60)  # busy: the event loop never runs, nobody is answered
"""


def _hold(*options: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", _BUSY_HOLDER, *options],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "holding"
    return child


@pytest.fixture
def busy_holder() -> Iterator[subprocess.Popen[str]]:
    child = _hold()
    yield child
    child.kill()
    child.wait()
    assert child.stdout is not None
    child.stdout.close()
    QLocalServer.removeServer(instance_name())  # the socket file a killed holder leaves


def _connects() -> bool:
    socket = QLocalSocket()
    socket.connectToServer(instance_name())
    connected = socket.waitForConnected(1000)
    socket.abort()
    return connected


def test_a_busy_instance_is_waited_for_boundedly_and_keeps_its_socket(
    qtbot: QtBot, busy_holder: subprocess.Popen[str]
) -> None:
    began = time.monotonic()
    silent = rf"another Reflexia \(pid {busy_holder.pid}\) is running but did not answer in 2 s"
    with pytest.raises(InstanceNotAnsweringError, match=silent):
        SingleInstance().hand_over("show", wait_s=2.0)
    waited = time.monotonic() - began
    assert 2.0 <= waited < 5.0
    assert busy_holder.poll() is None
    assert _connects()  # its socket is still there, still its own


def test_a_killed_instance_s_lock_and_socket_do_not_hold_up_the_next_launch(
    qtbot: QtBot, busy_holder: subprocess.Popen[str], caplog: pytest.LogCaptureFixture
) -> None:
    busy_holder.kill()  # kill -9: lock file and socket file stay behind
    busy_holder.wait()
    instance = SingleInstance()
    began = time.monotonic()
    try:
        with caplog.at_level(logging.INFO, logger="reflexia"):
            assert not instance.hand_over("show", wait_s=10.0)
            assert time.monotonic() - began < 1.0  # a stale lock is seen at once, not waited for
            assert instance.listen()
        assert "removing the stale instance socket" in caplog.text
        assert _connects()
    finally:
        instance.close()


def test_a_dead_instance_s_lock_naming_a_reused_pid_is_removed_after_a_grace(
    qtbot: QtBot, busy_holder: subprocess.Popen[str], caplog: pytest.LogCaptureFixture
) -> None:
    busy_holder.kill()
    busy_holder.wait()
    lock = paths.data_dir() / f"{instance_name()}.lock"
    _pid, *rest = lock.read_text().split("\n")
    lock.write_text("\n".join([str(os.getpid()), *rest]))  # a live python now has the dead one's pid
    instance = SingleInstance()
    began = time.monotonic()
    try:
        with caplog.at_level(logging.INFO, logger="reflexia"):
            assert not instance.hand_over("show", wait_s=20.0)
        assert 5.0 <= time.monotonic() - began < 10.0
        assert f"removed the instance lock of pid {os.getpid()}: that process is not Reflexia" in caplog.text
    finally:
        instance.close()


def test_a_live_instance_that_never_listens_keeps_its_lock(qtbot: QtBot) -> None:
    holder = _hold("--no-listen")  # it could not listen: still the one engine, though unreachable
    try:
        with pytest.raises(InstanceNotAnsweringError):
            SingleInstance().hand_over("show", wait_s=7.0)  # past the grace for reused pids
        assert holder.poll() is None
        assert (paths.data_dir() / f"{instance_name()}.lock").read_text().startswith(f"{holder.pid}\n")
    finally:
        holder.kill()
        holder.wait()
        assert holder.stdout is not None
        holder.stdout.close()
