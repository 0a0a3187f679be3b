"""How free the GUI thread stays with a large conversation history.

A store of 2,000 conversations and 20,000 messages is written first; then the real app
(build_app, offscreen, the generated tiny model) runs while a 5 ms GUI-thread timer records
every gap in the event loop: (1) while short replies finish and their messages are stored, and
(2) while the history is searched from the sidebar's search box. Target: largest gap under 50 ms.
The script only uses what both the old (GUI-thread) history and the new one have, so it can be
run against another checkout with ``PYTHONPATH=<checkout>/app``.

    .venv/bin/python benchmarks/history_responsiveness.py [--replies 12] [--searches 12]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gui_responsiveness import Gaps, wait

WORDS = [
    "lighthouse",
    "harbour",
    "river",
    "lens",
    "quantization",
    "model",
    "memory",
    "tide",
    "kettle",
    "garden",
    "violin",
    "market",
    "bridge",
    "winter",
    "orbit",
    "recipe",
    "glacier",
    "compass",
    "lantern",
    "meadow",
    "ferry",
    "signal",
    "archive",
    "pepper",
]
QUERIES = ["lighthouse", "quant", "river lens", "tide", "garden violin", "orbit", "pepper", "ferry signal"]


def seed(path: Path, conversations: int, per_conversation: int) -> None:
    """A history of that size, written in one transaction through the store's own schema."""
    from reflexia.core.history.store import HistoryStore

    HistoryStore(path).close()  # creates the schema (and its search triggers)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN")
    now = time.time() - conversations * 60
    for c in range(conversations):
        conversation_id = uuid.uuid4().hex
        stamp = now + c * 60
        title = " ".join(WORDS[(c + k) % len(WORDS)] for k in range(4))
        db.execute(
            "INSERT INTO conversations (id, title, expert_role, created_at, updated_at) "
            "VALUES (?, ?, '', ?, ?)",
            (conversation_id, title, stamp, stamp),
        )
        for m in range(per_conversation):
            text = " ".join(WORDS[(c * 7 + m * 3 + k) % len(WORDS)] for k in range(40))
            db.execute(
                "INSERT INTO messages (conversation_id, position, role, content, status, created_at) "
                "VALUES (?, ?, ?, ?, 'complete', ?)",
                (conversation_id, m, "user" if m % 2 == 0 else "assistant", f"**{text}**", stamp),
            )
    db.execute("COMMIT")
    db.close()


def figures(gaps: list[float]) -> dict[str, float]:
    """p50, p99 and max of the gaps in ms, and how many were over 50 ms."""
    ms = sorted(g * 1000 for g in gaps)
    return {
        "p50": round(statistics.median(ms), 1),
        "p99": round(ms[min(len(ms) - 1, int(0.99 * len(ms)))], 1),
        "max": round(ms[-1], 1),
        "over_50": sum(g > 50 for g in ms),
        "beats": len(ms),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=10, help="messages per conversation")
    parser.add_argument("--replies", type=int, default=12)
    parser.add_argument("--searches", type=int, default=12)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="reflexia-history-bench-"))
    os.environ["REFLEXIA_HOME"] = str(home)
    models = home / "models"
    os.environ["REFLEXIA_MODELS_DIR"] = str(models)
    from reflexia.core.history.store import default_history_path
    from reflexia.core.models.model_factory import make_model
    from reflexia.core.models.quantizer import quantize_model

    seeded = time.perf_counter()
    seed(default_history_path(), args.conversations, args.messages)
    seeded = time.perf_counter() - seeded
    model = quantize_model(make_model(models / "tiny-f16.gguf", size="tiny", seed=7), "q4_k_m")
    config = home / "config" / "config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"sampling": {"max_tokens": 16, "temperature": 0.8, "seed": 3}}))

    qt_app = QApplication(sys.argv)
    from reflexia.app import build_app
    from reflexia.core.config.settings import load_settings

    built = time.perf_counter()
    app = build_app(load_settings())
    built = time.perf_counter() - built
    app.window.show()
    app.load_model(model)
    wait(lambda: app.inference.model is not None)
    history = app.history
    assert history is not None

    def settle() -> None:  # the new history answers on its own thread; the old one already has
        getattr(history, "settle", lambda: True)()

    settle()
    results: list[object] = []
    app.chat.reply_finished.connect(results.append)

    # 1. Replies finishing and being stored (each one moves its conversation to the top of the list).
    gaps = Gaps()
    gaps.start()
    for turn in range(args.replies):
        before = len(results)
        app.window.send(f"Tell me about the lighthouse, part {turn}")
        wait(lambda before=before: not app.chat.is_replying and len(results) > before, 60)
        settle()
        if turn % 4 == 3:
            app.window.new_chat()
    gaps.stop()
    replies = figures(gaps.gaps)

    # 2. Searching from the sidebar, as the user types and pauses.
    sidebar = app.window.sidebar
    gaps = Gaps()
    gaps.start()
    for number in range(args.searches):
        sidebar.search_box.setText(QUERIES[number % len(QUERIES)])
        wait(lambda: not sidebar._search_timer.isActive(), 10)
        settle()
        sidebar.search_box.clear()
        wait(lambda: not sidebar._search_timer.isActive(), 10)
        settle()
    gaps.stop()
    searches = figures(gaps.gaps)

    app.shutdown()
    qt_app.quit()
    summary = {
        "conversations": args.conversations,
        "messages": args.conversations * args.messages,
        "seed_s": round(seeded, 1),
        "build_app_s": round(built, 2),
        "gap_ms_replies": replies,
        "gap_ms_search": searches,
    }
    line = "GUI-thread gaps (ms), {}: p50 {p50}  p99 {p99}  max {max}  (>50 ms: {over_50} of {beats})"
    print(f"{summary['messages']} messages in {args.conversations} conversations; build_app {built:.2f} s")
    print(line.format("replies stored", **replies))
    print(line.format("sidebar search", **searches))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
