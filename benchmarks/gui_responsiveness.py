"""How responsive the window stays while a reply streams at full speed, and how fast Stop acts.

The real app (build_app: window, chat view, governor sampling every second,
model library) runs on Qt's offscreen platform with the generated small model.
A 5 ms GUI-thread timer records every gap in the event loop while replies
stream; then Esc stops replies mid-stream and the time until the window shows
them stopped is measured. Targets: max event-loop gap under 50 ms, Stop under
200 ms. Tests only catch freezes; these figures are the targets.

    .venv/bin/python benchmarks/gui_responsiveness.py [--tokens 3000] [--stops 15]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEventLoop, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Gaps:
    """A 5 ms GUI-thread timer; the gaps between its beats are how long the GUI was busy."""

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self._last = 0.0
        self._timer = QTimer()
        self._timer.setInterval(5)
        self._timer.timeout.connect(self._beat)

    def _beat(self) -> None:
        now = time.perf_counter()
        if self._last:
            self.gaps.append(now - self._last)
        self._last = now

    def start(self) -> None:
        self._last = 0.0
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()


def wait(predicate: object, timeout_s: float = 60.0) -> None:
    deadline = time.perf_counter() + timeout_s
    loop = QEventLoop()
    while not predicate():  # type: ignore[operator]
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not get there in time")
        loop.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=3000, help="tokens to stream while measuring gaps")
    parser.add_argument("--stops", type=int, default=15, help="replies to stop with Esc")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="reflexia-bench-"))
    os.environ["REFLEXIA_HOME"] = str(home)
    models = home / "models"
    os.environ["REFLEXIA_MODELS_DIR"] = str(models)
    from reflexia.core.models.model_factory import make_model
    from reflexia.core.models.quantizer import quantize_model

    model = quantize_model(make_model(models / "small-f16.gguf", size="small", seed=7), "q4_k_m")
    config = home / "config" / "config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"sampling": {"max_tokens": 100_000, "temperature": 0.8, "seed": 3}}))

    qt_app = QApplication(sys.argv)
    from reflexia.app import build_app
    from reflexia.core.config.settings import load_settings

    app = build_app(load_settings())
    app.window.show()
    app.load_model(model)
    wait(lambda: app.inference.model is not None)
    results: list[object] = []
    app.chat.reply_finished.connect(results.append)

    # 1. Event-loop gaps while replies stream at full speed (a reply may end early at its own EOS),
    #    with the performance panel hidden, then shown (it redraws its charts while replies stream).
    def stream(tokens: int) -> tuple[list[float], int, float]:
        gaps = Gaps()
        streamed = 0
        started = time.perf_counter()
        gaps.start()
        turn = 0
        while streamed < tokens:
            turn += 1
            before = len(results)
            app.window.send(f"Tell me a long story, part {turn}")
            wait(lambda before=before: not app.chat.is_replying and len(results) > before, 120)
            streamed += results[-1].stats.completion_tokens  # type: ignore[attr-defined]
            if len(app.chat.conversation.turns) > 16:
                app.window.new_chat()
        gaps.stop()
        return gaps.gaps, streamed, time.perf_counter() - started

    hidden_gaps, streamed, elapsed = stream(args.tokens)
    app.window.performance_dock.show()
    shown_gaps, shown_streamed, shown_elapsed = stream(args.tokens)
    app.window.performance_dock.hide()

    # 2. Stop latency: Esc mid-reply until the window shows the reply stopped.
    latencies: list[float] = []
    for index in range(args.stops):
        app.window.new_chat()
        before = len(results)
        app.window.send(f"Keep talking {index}")
        wait(lambda: app.window.chat_view.bubbles and len(app.window.chat_view.bubbles[-1].text) > 200)
        pressed = time.perf_counter()
        QTest.keyClick(app.window.composer.input, Qt.Key.Key_Escape)
        wait(lambda before=before: len(results) > before and app.window.composer.button.text() == "Send", 10)
        latencies.append(time.perf_counter() - pressed)

    app.shutdown()
    qt_app.quit()

    def gap_figures(gaps: list[float]) -> dict[str, float]:
        ms = [g * 1000 for g in gaps]
        return {
            "p50": round(statistics.median(ms), 1),
            "p99": round(_percentile(ms, 0.99), 1),
            "max": round(max(ms), 1),
            "over_50": sum(g > 50 for g in ms),
            "beats": len(ms),
        }

    summary = {
        "tokens": streamed,
        "tokens_per_s": round(streamed / elapsed, 1),
        "tokens_per_s_panel_shown": round(shown_streamed / shown_elapsed, 1),
        "gap_ms": gap_figures(hidden_gaps),
        "gap_ms_panel_shown": gap_figures(shown_gaps),
        "stop_ms": {
            "p50": round(statistics.median(latencies) * 1000, 1),
            "p99": round(_percentile(latencies, 0.99) * 1000, 1),
            "max": round(max(latencies) * 1000, 1),
        },
    }
    print(f"streamed {streamed} tokens at {summary['tokens_per_s']} tok/s with the governor sampling")
    line = "event-loop gaps (ms), panel {}: p50 {p50}  p99 {p99}  max {max}  (>50 ms: {over_50} of {beats})"
    print(line.format("hidden", **summary["gap_ms"]))  # type: ignore[arg-type]
    print(line.format("shown ", **summary["gap_ms_panel_shown"]))  # type: ignore[arg-type]
    print("stop latency (ms):   p50 {p50}  p99 {p99}  max {max}".format(**summary["stop_ms"]))  # type: ignore[arg-type]
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
