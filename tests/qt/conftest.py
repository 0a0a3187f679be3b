"""Fixtures for service and widget tests: the real app, wired as in production."""

from __future__ import annotations

import gc
import json
import math
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QThread, QThreadPool, QTimer, QUrl, Slot
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from reflexia.app import ReflexiaApp, build_app
from reflexia.core.config import paths
from reflexia.core.config.settings import load_settings


@pytest.fixture(autouse=True)
def no_leaked_qt_threads() -> Iterator[None]:
    """Fail a Qt test that leaves a global thread-pool job or a QThread running.

    Pool jobs get about 3 s to finish and new QThreads about 2 s, with Qt events
    processed meanwhile (a thread may be waiting for a queued ``quit``). PySide6
    has no registry of threads, so QThreads are found by one scan of the objects
    the garbage collector tracks before the test and one after: a QThread that no
    Python object wraps (one created and kept by C++ only) is invisible here.
    """
    before = {id(t) for t in _running_qthreads()}
    timers_before = {id(t) for t in _repeating_timers()}
    windows_before = {id(w) for w in _shown_windows()}
    yield
    pool = QThreadPool.globalInstance()
    deadline = time.monotonic() + 3.0
    while not pool.waitForDone(20) and time.monotonic() < deadline:
        _process_events()
    if pool.activeThreadCount():
        pytest.fail(f"test left {pool.activeThreadCount()} global thread-pool jobs running", pytrace=False)
    leaked = [t for t in _running_qthreads() if id(t) not in before]
    deadline = time.monotonic() + 2.0
    while leaked and time.monotonic() < deadline:
        _process_events()
        time.sleep(0.01)
        leaked = [t for t in leaked if _is_running(t)]
    if leaked:
        names = [t.objectName() or f"unnamed {type(t).__name__}" for t in leaked]
        pytest.fail(f"test left QThreads running: {names}", pytrace=False)
    # What qtbot closed is deleted once its deferred deletions run; what is left was left by the test.
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    windows = [w for w in _shown_windows() if id(w) not in windows_before]
    if windows:
        names = [w.objectName() or type(w).__name__ for w in windows]
        pytest.fail(f"test left top-level windows open: {names}", pytrace=False)
    timers = [t for t in _repeating_timers() if id(t) not in timers_before]
    if timers:
        owners = [f"{type(t.parent()).__name__}: {t.interval()} ms" for t in timers]
        pytest.fail(f"test left repeating QTimers running: {owners}", pytrace=False)


def _repeating_timers() -> list[QTimer]:
    """Active timers that fire again and again (a single shot ends by itself)."""
    return [
        o
        for o in gc.get_objects()
        if issubclass(type(o), QTimer) and shiboken6.isValid(o) and o.isActive() and not o.isSingleShot()
    ]


def _shown_windows() -> list[QWidget]:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return []
    return [w for w in app.topLevelWidgets() if w.isVisible() and w.windowType() != Qt.WindowType.ToolTip]


def _running_qthreads() -> list[QThread]:
    current = QThread.currentThread()  # the GUI thread runs throughout; it is no leak
    # type(), not isinstance(): some objects (torch's deprecated aliases) warn when asked their __class__.
    return [
        o for o in gc.get_objects() if issubclass(type(o), QThread) and o is not current and _is_running(o)
    ]


def _is_running(thread: QThread) -> bool:
    # A wrapper can outlive its C++ thread (deleteLater); calling into it would raise.
    return shiboken6.isValid(thread) and thread.isRunning()


def _process_events() -> None:
    if QCoreApplication.instance() is not None:  # without an application there is nothing to process
        QCoreApplication.processEvents()


def write_user_config(tree: dict[str, object]) -> None:
    """Settings a test wants, written where the app reads the user's config."""
    path = paths.config_dir() / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tree), encoding="utf-8")


@pytest.fixture
def make_app(qtbot: QtBot, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Build the wired app (models folder: the session's generated models unless given)."""
    built: list[ReflexiaApp] = []

    def factory(user_config: dict[str, object] | None = None, models_dir: Path | None = None) -> ReflexiaApp:
        monkeypatch.setenv("REFLEXIA_MODELS_DIR", str(models_dir or model_dir))
        if user_config is not None:
            write_user_config(user_config)
        app = build_app(load_settings())
        qtbot.addWidget(app.window)
        app.window.show()
        app.window.activateWindow()
        qtbot.waitExposed(app.window)
        built.append(app)
        return app

    yield factory
    for app in built:
        app.quick_prompt.hide()  # as quitting hides it (DesktopAgent.quit)
        app.shutdown()


class Heartbeat:
    """A fast GUI-thread timer; its largest gap shows how long the GUI was blocked."""

    def __init__(self, interval_ms: int = 5) -> None:
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._beat)
        self._last = 0.0
        self.max_gap_s = 0.0
        self.beats = 0
        self.gaps: list[float] = []
        self.gc_pauses: list[tuple[int, float]] = []
        self._gc_started = 0.0

    def _beat(self) -> None:
        now = time.perf_counter()
        if self._last:
            self.max_gap_s = max(self.max_gap_s, now - self._last)
            self.gaps.append(now - self._last)
        self._last = now
        self.beats += 1

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses.append((info["generation"], time.perf_counter() - self._gc_started))

    def describe(self) -> str:
        """The largest gaps and the collector's pauses, for a failure message."""
        top = sorted(self.gaps, reverse=True)[:5]
        pauses = sorted(self.gc_pauses, key=lambda p: -p[1])[:3]
        return (
            f"max {self.max_gap_s * 1000:.0f} ms; top gaps {[round(g * 1000) for g in top]} ms "
            f"of {self.beats} beats; slowest gc {[(g, round(t * 1000, 1)) for g, t in pauses]}"
        )

    def __enter__(self) -> Heartbeat:
        self._last = 0.0
        gc.callbacks.append(self._gc)
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._timer.stop()
        gc.callbacks.remove(self._gc)


# A child process that holds memory until killed: how tests raise memory pressure for real.
# Holds the machine's used memory at a target share, whatever else runs: other programs (and the
# test process itself) take and give back memory while a test waits, and a fixed allocation sized
# from one moment's reading left pressure below "high" when they gave some back (the governor
# tests then timed out in the suite and passed alone).
EAT = """
import sys, time, psutil
target, ceiling = float(sys.argv[1]), float(sys.argv[2])
chunks, ready = [], False
while True:
    used = psutil.virtual_memory().percent
    if used < target - 0.5 and used < ceiling:
        chunks.append(bytearray(b"\\x01") * (64 << 20))
        continue
    if used > target + 2 and chunks:
        chunks.pop()
    if not ready and (used >= target - 0.5 or used >= ceiling):
        ready = True
        print("ready", flush=True)
    time.sleep(0.1)
"""


@pytest.fixture
def pressure_settings() -> dict[str, object]:
    """Thresholds just above what this machine uses now; the eater pushes past "high"."""
    memory = psutil.virtual_memory()
    high = max(10, math.ceil(memory.percent) + 4)
    return {
        "memory": {
            "high_pressure_percent": high,
            "critical_pressure_percent": min(100, high + 25),
            "dwell_seconds": 1,
            "recovery_seconds": 600,  # no stepping back up while the test looks
            "min_free_memory_mb": 256,
        },
        "sampling": {"max_tokens": 100_000, "temperature": 0.7, "seed": 2},
        "model": {"threads": 1},  # slower replies: one is surely running when pressure rises
    }


@pytest.fixture
def memory_eater(pressure_settings: dict[str, object]) -> Iterator[object]:
    """Start() holds used memory 4 points past the high threshold until the test ends."""
    children: list[subprocess.Popen[str]] = []

    def start() -> None:
        high = pressure_settings["memory"]["high_pressure_percent"]  # type: ignore[index]
        critical = pressure_settings["memory"]["critical_pressure_percent"]  # type: ignore[index]
        target, ceiling = high + 4, min(critical - 2, 92)
        child = subprocess.Popen(
            [sys.executable, "-c", EAT, str(target), str(ceiling)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"

    yield start
    for child in children:
        child.kill()
        child.wait()
        for pipe in (child.stdin, child.stdout):
            if pipe is not None:
                pipe.close()


class OpenedUrls(QObject):
    """Stands in for the desktop's URL opener (``QDesktopServices.setUrlHandler``): records the URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        """Called by Qt for each URL the app asks the desktop to open."""
        self.urls.append(url)


def wait_for_samples(qtbot: QtBot, app: ReflexiaApp, rounds: int, timeout_ms: int = 30_000) -> None:
    """Let the governor's sampler take ``rounds`` more samples (each one a chance to decide).

    Waits on the samples themselves, not on a time: "nothing happened" is then true of that many
    decisions however slow the machine is.
    """
    seen: list[object] = []
    app.governor.sampled.connect(seen.append)
    try:
        qtbot.waitUntil(lambda: len(seen) >= rounds, timeout=timeout_ms)
    finally:
        app.governor.sampled.disconnect(seen.append)

