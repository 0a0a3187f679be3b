"""`reflexia --self-test`: the whole app, offscreen, end to end; what a frozen bundle runs to prove itself.

It builds the real app (window, services, engine) in a throw-away home, generates a tiny
model, answers a prompt through the window, indexes a document with the real embedder and
ChromaDB, searches it, and prints one JSON line of timings. Exit 0 when every step worked,
1 (with the step that failed) otherwise. Qt's platform plugins, llama.cpp's libraries, the
embedder's weights and ChromaDB's migrations are all exercised, so a bundle missing any of
them fails here instead of on a user's machine.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

_TIMEOUT_S = 300.0


def _wait(qt_app: object, done: Callable[[], bool], what: str) -> None:
    from PySide6.QtCore import QCoreApplication

    deadline = time.monotonic() + _TIMEOUT_S
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not finish within {_TIMEOUT_S:.0f} s")
        QCoreApplication.processEvents()
        time.sleep(0.01)


def run_self_test() -> int:
    """Run the self-test; 0 when everything worked."""
    started = time.perf_counter()
    home = Path(tempfile.mkdtemp(prefix="reflexia-self-test-"))
    os.environ["REFLEXIA_HOME"] = str(home)
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    timings: dict[str, float] = {}
    step = "starting Qt"
    try:
        from PySide6.QtWidgets import QApplication

        from reflexia.app import build_app
        from reflexia.core.config.settings import load_settings
        from reflexia.core.models.model_factory import make_model

        qt_app = QApplication.instance() or QApplication([sys.argv[0]])
        step = "building the app"
        app = build_app(load_settings())
        app.window.show()
        timings["window_s"] = time.perf_counter() - started
        try:
            step = "generating a tiny model"
            model = make_model(home / "self-test-tiny.gguf", size="tiny", seed=1)
            step = "loading the model"
            app.load_model(model)
            _wait(qt_app, lambda: app.inference.model is not None, step)
            step = "answering a prompt"
            mark = time.perf_counter()
            replies: list[object] = []
            app.chat.reply_finished.connect(replies.append)
            app.window.send("Say hello.")
            _wait(qt_app, lambda: bool(replies), step)
            timings["reply_s"] = time.perf_counter() - mark
            step = "indexing a document"
            document = home / "self-test.md"
            document.write_text("# Lighthouses\n\nThe Fresnel lens focuses the lamp's light into a beam.\n")
            mark = time.perf_counter()
            summaries: list[object] = []
            problems: list[str] = []
            app.documents.run_finished.connect(summaries.append)
            app.documents.failed.connect(problems.append)
            app.documents.add([document])
            _wait(qt_app, lambda: bool(summaries or problems), step)
            if problems:
                raise RuntimeError(problems[0])
            timings["index_s"] = time.perf_counter() - mark
            step = "searching the document"
            hits: list[object] = []
            app.documents.found.connect(lambda _ticket, found: hits.append(found))
            app.documents.search("What focuses the light of a lighthouse?")
            _wait(qt_app, lambda: bool(hits), step)
            if not hits[0]:
                raise RuntimeError("the indexed document was not found")
        finally:
            app.shutdown()
    except Exception as error:  # the self-test reports every failure as its step and reason
        print(json.dumps({"ok": False, "step": step, "error": f"{type(error).__name__}: {error}"}))
        return 1
    timings["total_s"] = time.perf_counter() - started
    print(json.dumps({"ok": True, **{k: round(v, 2) for k, v in timings.items()}}))
    return 0
