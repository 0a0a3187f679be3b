"""Screenshots of documents in the real app under Xvfb: the drop zone, indexing, a cited answer.

Run: ``xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python docs/make_document_screenshots.py MODEL``
where MODEL is SmolLM2-135M-Instruct's GGUF (the tests keep it in ``~/.cache/reflexia-tests``).
The embedder is the real all-MiniLM-L6-v2; the answer is the real model's.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shot_tools import wait, wait_until

OUT = Path(__file__).resolve().parent / "screenshots"
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def write_library(folder: Path) -> None:
    from tests.grounding_docs import write_grounding_docs

    write_grounding_docs(folder)
    for i in range(24):
        text = "\n\n".join(
            f"Inspection {j} of turbine {i}: blade wear {j} mm, vibration {j * 3 + i} Hz, bearing at "
            f"{40 + j} degrees. Seals replaced, filters cleaned, readings logged for the next visit."
            for j in range(30)
        )
        (folder / f"turbine-report-{i:02d}.md").write_text(f"# Turbine {i}\n\n{text}\n", encoding="utf-8")
    (folder / "scan.pdf").write_bytes(b"%PDF-1.4 not really a pdf")


def main() -> int:
    model = Path(sys.argv[1])
    home = Path(tempfile.mkdtemp(prefix="reflexia-doc-shots-"))
    os.environ["REFLEXIA_HOME"] = str(home)
    (home / "config").mkdir(parents=True)
    config = {"sampling": {"max_tokens": 60, "temperature": 0, "repeat_penalty": 1.0}}
    (home / "config" / "config.json").write_text(json.dumps(config))
    library = home / "Plant handbook"
    write_library(library)
    from reflexia.app import build_app
    from reflexia.core.config.settings import load_settings
    from reflexia.ui.theme import apply_theme

    qt_app = QApplication(sys.argv)
    apply_theme(qt_app, "light")
    app = build_app(load_settings())
    window = app.window
    window.resize(1320, 800)
    window.show()
    app.load_model(model)
    wait_until(lambda: app.inference.model is not None)
    wait(300)
    OUT.mkdir(parents=True, exist_ok=True)

    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(library))])
    where = window.chat_view.mapTo(window, QPoint(60, 60))
    enter = QDragEnterEvent(
        where, Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(window, enter)
    wait(300)
    window.grab().save(str(OUT / "drop-zone.png"))
    drop = QDropEvent(
        QPointF(where),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, drop)
    progress: list[object] = []
    app.documents.progress.connect(progress.append)
    wait_until(lambda: sum(1 for p in progress if getattr(p, "outcome", None)) >= 6)
    wait(200)
    window.grab().save(str(OUT / "documents-indexing.png"))
    wait_until(lambda: not app.documents.busy, 600_000)

    assert window.documents_panel is not None
    window.documents_panel.use_documents.click()
    window.composer.input.setPlainText("How tight must the Zorblax valve be?")
    window.composer.button.click()
    wait_until(lambda: not app.chat.is_replying)
    wait(500)
    window.grab().save(str(OUT / "answer-with-sources.png"))
    apply_theme(qt_app, "dark")
    wait(1500)
    window.grab().save(str(OUT / "answer-with-sources-dark.png"))
    app.shutdown()
    print(f"screenshots in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
