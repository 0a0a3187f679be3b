"""Fixtures for service and widget tests: the real app, wired as in production."""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from reflexia.app import ReflexiaApp, build_app
from reflexia.core.config import paths
from reflexia.core.config.settings import load_settings


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
