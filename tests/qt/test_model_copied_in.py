"""A model copied into the models folder while the app runs appears in the model menu when complete."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot


def test_a_slow_copy_appears_in_the_model_menu_once_it_is_whole(
    qtbot: QtBot, make_app, tiny_model: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    app = make_app(models_dir=folder)
    qtbot.waitUntil(lambda: app.library.snapshot is not None, timeout=10_000)
    data = tiny_model.read_bytes()
    copy = folder / "arriving-q4_k_m.gguf"
    chunk = len(data) // 5
    with copy.open("wb") as out:  # as cp or a browser writes it: the name first, the bytes over time
        out.write(data[:chunk])
        out.flush()
        qtbot.waitUntil(
            lambda: app.library.snapshot is not None
            and any(f.path == copy for f in app.library.snapshot.catalog.unreadable),
            timeout=10_000,
        )
        for start in range(chunk, len(data), chunk):
            out.write(data[start : start + chunk])
            out.flush()
            qtbot.wait(200)
    picker = app.window.picker
    qtbot.waitUntil(
        lambda: any("arriving" in picker.itemText(i) for i in range(picker.count())), timeout=15_000
    )
    assert app.library.snapshot is not None and not app.library.snapshot.catalog.unreadable
