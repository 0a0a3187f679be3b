"""Quantization from the app: a child process, progress, cancel, and the menu follows."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from reflexia.core.models.gguf_file import read_gguf
from reflexia.services.quantization import QuantizationService
from tests.qt.conftest import Heartbeat


@pytest.fixture
def family_dir(model_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("tiny-f16.gguf", "tiny-q4_k_m.gguf"):
        shutil.copy(model_dir / name, folder / name)
    return folder


def test_make_a_rung_from_the_menu(qtbot: QtBot, make_app, family_dir: Path) -> None:
    app = make_app(models_dir=family_dir)
    window = app.window
    qtbot.waitUntil(lambda: app.library.snapshot is not None, timeout=10_000)
    with qtbot.waitSignal(app.inference.model_loaded, timeout=20_000):
        app.load_model(family_dir / "tiny-f16.gguf")
    menu = window.memory_status._menu
    menu.aboutToShow.emit()
    actions = {action.text(): action for action in menu.actions()}
    assert "Make q8_0 from tiny-f16.gguf" in actions and "Pin q4_k_m" in actions
    progress: list[tuple[int, int]] = []
    app.quantization.progress.connect(lambda done, total: progress.append((done, total)))
    with Heartbeat() as heartbeat, qtbot.waitSignal(app.quantization.finished, timeout=60_000) as finished:
        actions["Make q8_0 from tiny-f16.gguf"].trigger()
        assert window.banner.isVisible() and "Making q8_0" in window.banner.label.text()
    made = finished.args[0]
    assert made == family_dir / "tiny-q8_0.gguf" and read_gguf(made).quantization == "q8_0"
    assert progress and progress[-1][0] == progress[-1][1]  # every tensor reported
    assert heartbeat.max_gap_s < 0.5, f"froze for {heartbeat.max_gap_s * 1000:.0f} ms"
    assert "Made tiny-q8_0.gguf" in window.banner.label.text()
    qtbot.waitUntil(
        lambda: any("q8_0" in window.picker.itemText(i) for i in range(window.picker.count())), timeout=10_000
    )


def test_cancel_leaves_nothing_behind(qtbot: QtBot, family_dir: Path) -> None:
    service = QuantizationService(family_dir)
    with qtbot.waitSignal(service.cancelled, timeout=30_000):
        job = service.quantize(family_dir / "tiny-f16.gguf", "q5_k_m")
        assert job is not None and service.busy
        service.cancel()
    assert not service.busy
    assert sorted(p.name for p in family_dir.iterdir()) == ["tiny-f16.gguf", "tiny-q4_k_m.gguf"]


def test_a_second_quantization_while_one_runs_is_refused(qtbot: QtBot, family_dir: Path) -> None:
    service = QuantizationService(family_dir)
    assert service.quantize(family_dir / "tiny-f16.gguf", "q5_k_m") is not None
    with qtbot.waitSignal(service.failed) as failed:
        assert service.quantize(family_dir / "tiny-f16.gguf", "q8_0") is None
    assert "another quantization is running" in str(failed.args[0])
    with qtbot.waitSignal(service.finished, timeout=60_000):
        pass
    assert (family_dir / "tiny-q5_k_m.gguf").is_file()


def test_failure_is_reported_with_the_reason(qtbot: QtBot, family_dir: Path) -> None:
    service = QuantizationService(family_dir)
    with qtbot.waitSignal(service.failed, timeout=30_000) as failed:
        service.quantize(family_dir / "tiny-q4_k_m.gguf", "q4_0")
    assert "already quantized" in str(failed.args[0])


def test_cancel_in_the_middle_of_quantizing_removes_the_partial_file(qtbot: QtBot, tmp_path: Path) -> None:
    from reflexia.core.models.model_factory import make_model

    folder = tmp_path / "small"
    source = make_model(folder / "small-f16.gguf", size="small", seed=5)
    service = QuantizationService(folder)
    with qtbot.waitSignal(service.progress, timeout=30_000) as first:
        service.quantize(source, "q4_k_m")  # k-quants of the small model take ~0.5 s: time to cancel
    done, total = first.args
    assert 0 < done < total
    assert any(p.name.startswith(".small-q4_k_m.gguf.") for p in folder.iterdir())  # the partial file
    with qtbot.waitSignal(service.cancelled, timeout=10_000):
        service.cancel()
    assert sorted(p.name for p in folder.iterdir()) == ["small-f16.gguf"]


def test_a_rung_of_another_apps_model_goes_to_our_folder_and_joins_its_family(
    qtbot: QtBot, make_app, tiny_f16_model: Path, tmp_path: Path
) -> None:
    lmstudio = Path.home() / ".lmstudio" / "models" / "someone" / "tiny-GGUF"
    lmstudio.mkdir(parents=True)
    source = lmstudio / "tiny-f16.gguf"
    shutil.copy(tiny_f16_model, source)
    ours = tmp_path / "our-models"
    app = make_app(models_dir=ours)
    qtbot.waitUntil(lambda: app.library.snapshot is not None, timeout=10_000)
    with qtbot.waitSignal(app.inference.model_loaded, timeout=20_000):
        app.load_model(source)
    menu = app.window.memory_status._menu
    menu.aboutToShow.emit()
    actions = {action.text(): action for action in menu.actions()}
    with qtbot.waitSignal(app.quantization.finished, timeout=60_000) as finished:
        actions["Make q8_0 from tiny-f16.gguf"].trigger()

    made = finished.args[0]
    assert made.parent == ours  # never into LM Studio's folder
    assert sorted(p.name for p in lmstudio.iterdir()) == ["tiny-f16.gguf"]

    def grouped() -> bool:
        snapshot = app.library.snapshot
        family = snapshot.catalog.find(source) if snapshot else None
        return family is not None and {f.path for f in family.files} == {source, made}

    qtbot.waitUntil(grouped, timeout=10_000)  # the catalog sees it, so it is not made again
    menu.aboutToShow.emit()
    assert "Make q8_0 from tiny-f16.gguf" not in [a.text() for a in menu.actions()]
