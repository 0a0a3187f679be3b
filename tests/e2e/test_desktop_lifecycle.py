"""The desktop app's life with real processes: one instance, quitting by signal, the window's close.

Each test starts ``python -m reflexia --verbose`` (offscreen, the test's own REFLEXIA_HOME) and
reads its log lines from stderr. With a system tray (Xvfb and ``trayer`` installed), closing
the window keeps Reflexia running; without one it quits.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from reflexia.core.desktop.display_libraries import missing_xcb_libraries

START_TIMEOUT_S = 60.0


class Running:
    """A started app process whose stderr lines are collected as they come."""

    def __init__(self, command: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            command or [sys.executable, "-m", "reflexia", "--verbose"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env or {**os.environ, "QT_QPA_PLATFORM": "offscreen"},
            start_new_session=True,  # a signal to the group reaches xvfb-run's children too
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            if time.monotonic() > deadline or (
                self.process.poll() is not None and not self._reader.is_alive()
            ):
                raise AssertionError(f"{text!r} never came; log:\n" + "\n".join(self.lines[-30:]))
            time.sleep(0.05)

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def stop(self, how: signal.Signals) -> int:
        self.process.send_signal(how)
        return self.finish()

    def close(self) -> None:
        self._reader.join(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()

    def finish(self) -> int:
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=5)
        return code


@pytest.fixture
def started() -> Iterator[list[Running]]:
    runs: list[Running] = []
    yield runs
    for run in runs:
        if run.process.poll() is None:
            os.killpg(run.process.pid, signal.SIGKILL)
            run.process.wait()
        run.close()


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_quit_cleanly_with_status_0(started: list[Running], how: signal.Signals) -> None:
    app = Running()
    started.append(app)
    app.wait_for("window shown")
    assert app.stop(how) == 0
    assert any(f"{how.name} received: quitting" in line for line in app.lines)
    assert any("quit with status 0" in line for line in app.lines)
    assert not any("Traceback" in line for line in app.lines)


def test_a_second_launch_hands_over_and_exits(started: list[Running]) -> None:
    first = Running()
    started.append(first)
    first.wait_for("window shown")
    began = time.monotonic()
    second = subprocess.run(
        [sys.executable, "-m", "reflexia", "--verbose"],
        capture_output=True,
        text=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=60,
        check=False,
    )
    assert second.returncode == 0, second.stderr
    assert "handed 'show' over to the running Reflexia" in second.stderr
    assert "window shown" not in second.stderr  # no second engine, no second window
    first.wait_for("another launch asked for 'show'", timeout=10)
    quick = subprocess.run(
        [sys.executable, "-m", "reflexia", "quick"],
        capture_output=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=60,
        check=False,
    )
    assert quick.returncode == 0
    first.wait_for("another launch asked for 'quick'", timeout=10)
    assert time.monotonic() - began < 30
    assert first.stop(signal.SIGTERM) == 0


_SLOW_TO_START = """
import sys
import time
from reflexia import desktop
from reflexia.cli import main

build_app = desktop.build_app

def slow_build_app(loaded):
    print("listening; building the app slowly", file=sys.stderr, flush=True)
    time.sleep(3)  # the GUI thread is busy: another launch's request waits unanswered
    return build_app(loaded)

desktop.build_app = slow_build_app
sys.exit(main(["--verbose"]))
"""


def test_a_launch_while_the_first_is_still_starting_hands_over(started: list[Running]) -> None:
    first = Running([sys.executable, "-c", _SLOW_TO_START])
    started.append(first)
    first.wait_for("building the app slowly")
    began = time.monotonic()
    second = Running()
    started.append(second)
    deadline = began + START_TIMEOUT_S
    while second.process.poll() is None and not second.saw("window shown") and time.monotonic() < deadline:
        time.sleep(0.05)
    log = "\n".join(second.lines[-30:])
    assert not second.saw("window shown"), f"a second engine started:\n{log}"
    assert second.finish() == 0, log
    print(f"handed over after {time.monotonic() - began:.2f} s")
    assert second.saw("handed 'show' over to the running Reflexia"), log
    assert not second.saw("removing the stale instance socket"), log
    first.wait_for("window shown")
    first.wait_for("another launch asked for 'show'", timeout=10)
    assert sum("another launch asked" in line for line in first.lines) == 1  # asked once, not per retry
    quick = subprocess.run(
        [sys.executable, "-m", "reflexia", "quick"],
        capture_output=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=60,
        check=False,
    )
    assert quick.returncode == 0  # the socket is still the first instance's
    first.wait_for("another launch asked for 'quick'", timeout=10)
    assert first.stop(signal.SIGTERM) == 0


def test_a_crashed_instance_does_not_block_the_next_launch(started: list[Running]) -> None:
    crashed = Running()
    started.append(crashed)
    crashed.wait_for("window shown")
    crashed.process.kill()  # kill -9: its socket file stays behind
    crashed.process.wait()
    again = Running()
    started.append(again)
    again.wait_for("window shown")
    assert any("removing the stale instance socket" in line for line in again.lines)
    assert again.stop(signal.SIGTERM) == 0


_CLOSE_THE_WINDOW = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from reflexia.cli import main

qt = QApplication(sys.argv)

def close_window():
    for widget in QApplication.topLevelWidgets():
        if type(widget).__name__ == "MainWindow" and widget.isVisible():
            widget.close()
            print("window closed", file=sys.stderr, flush=True)
            return
    QTimer.singleShot(200, close_window)

QTimer.singleShot(3000, close_window)
sys.exit(main(["--verbose"]))
"""


def test_closing_the_window_quits_when_there_is_no_tray(started: list[Running]) -> None:
    app = Running([sys.executable, "-c", _CLOSE_THE_WINDOW])
    started.append(app)
    app.wait_for("running without the menubar agent")
    app.wait_for("window closed")
    assert app.finish() == 0
    assert any("quit with status 0" in line for line in app.lines)


@pytest.mark.skipif(
    not (shutil.which("xvfb-run") and shutil.which("trayer")) or bool(missing_xcb_libraries()),
    reason="needs Xvfb, trayer and Qt's xcb libraries for a system tray (.ci/run installs them)",
)
def test_closing_the_window_keeps_reflexia_in_the_tray(started: list[Running], tmp_path: Path) -> None:
    with_tray = tmp_path / "with_tray.sh"  # a bare X server with a system tray, then the app
    with_tray.write_text(
        "trayer --edge top --align right --widthtype request --height 24 &\n"
        "sleep 1\n"
        f'exec {sys.executable} -c "$1"\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    command = ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", "bash", str(with_tray), _CLOSE_THE_WINDOW]
    app = Running(command, env)
    started.append(app)
    app.wait_for("window closed")
    time.sleep(2)
    assert app.process.poll() is None, "Reflexia quit when its window closed, though it has a tray"
    assert not any("running without the menubar agent" in line for line in app.lines)
    # SIGTERM to Reflexia alone: the X server must outlive it, or it dies of a lost display.
    [reflexia] = [
        child
        for child in psutil.Process(app.process.pid).children(recursive=True)
        if child.name().startswith("python")
    ]
    reflexia.send_signal(signal.SIGTERM)
    reflexia.wait(timeout=30)  # not our child: its status is in its last log line
    app.wait_for("quit with status 0", timeout=10)
    os.killpg(app.process.pid, signal.SIGTERM)
    app.finish()


_ASK_WHEN_LOADED = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from reflexia.cli import main

qt = QApplication(sys.argv)

def ask():
    for widget in QApplication.topLevelWidgets():
        if type(widget).__name__ == "MainWindow" and widget.model_label.text() != "No model":
            widget._chat.reply_token.connect(first_words)
            widget.send("Tell me a very long story")
            print("asked", file=sys.stderr, flush=True)
            return
    QTimer.singleShot(100, ask)

seen = []

def first_words(text):
    if not seen:
        seen.append(text)
        print("first words", file=sys.stderr, flush=True)

QTimer.singleShot(100, ask)
sys.exit(main(["--verbose"]))
"""


@pytest.mark.parametrize("when", ["asked", "first words"])
def test_sigterm_during_a_reply_keeps_the_message_and_the_reply_so_far(
    started: list[Running], small_model: Path, when: str
) -> None:
    from reflexia.core.history.store import HistoryStore, default_history_path
    from tests.qt.conftest import write_user_config

    write_user_config(
        {
            "sampling": {"max_tokens": 1_000_000, "temperature": 0.8},
            "model": {"default_model": str(small_model)},
        }
    )
    app = Running([sys.executable, "-c", _ASK_WHEN_LOADED])
    started.append(app)
    app.wait_for(when)  # just sent (maybe not even started), or with words on screen
    assert app.stop(signal.SIGTERM) == 0
    store = HistoryStore(default_history_path())
    try:
        [summary] = store.list_conversations()
        messages = store.get_conversation(summary.id).messages
    finally:
        store.close()
    assert [(m.role, m.status) for m in messages] == [("user", "complete"), ("assistant", "stopped")]
    assert messages[0].content == "Tell me a very long story"
    if when == "first words":
        assert messages[1].content  # what was on screen is kept
