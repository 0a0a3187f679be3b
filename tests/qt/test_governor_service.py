"""The governor's view stays true to what is loaded, and its work stays off the GUI thread.

Pressure rises for real: a child process holds memory past the "high" threshold
(``memory_eater`` in conftest), placed just above what this machine uses now.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QCoreApplication, Qt, QThread
from pytestqt.qtbot import QtBot

from reflexia.app import ReflexiaApp
from reflexia.core.models.model_factory import make_model
from reflexia.core.models.quantizer import quantize_model
from reflexia.services import governor_service
from tests.qt.conftest import wait_for_samples


@pytest.fixture(scope="module")
def small_pair(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("small-pair")
    quantize_model(make_model(folder / "small-f16.gguf", size="small", seed=4), "q4_k_m")
    return folder


def _copy(source: Path, names: tuple[str, ...], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(source / name, folder / name)
    return folder


def _settings(pressure: dict[str, object], **model: object) -> dict[str, object]:
    model_settings = {**pressure["model"], **model}  # type: ignore[dict-item]
    return {**pressure, "model": model_settings}


def _consenting(pressure: dict[str, object]) -> dict[str, object]:
    """The pressure settings with the user's yes to new files (memory.make_rungs_automatically)."""
    memory = {**pressure["memory"], "make_rungs_automatically": True}  # type: ignore[dict-item]
    return {**pressure, "memory": memory}


def _load(qtbot: QtBot, app: ReflexiaApp, path: Path, context: int | None = None) -> None:
    qtbot.waitUntil(lambda: app.library.snapshot is not None, timeout=10_000)
    with qtbot.waitSignal(app.inference.model_loaded, timeout=20_000):
        app.load_model(path, context)


def test_a_swap_keeps_the_shorter_context_the_model_was_loaded_with(
    qtbot: QtBot, make_app, small_pair: Path, tmp_path: Path, pressure_settings, memory_eater
) -> None:
    folder = _copy(small_pair, ("small-f16.gguf", "small-q4_k_m.gguf"), tmp_path / "m")
    app = make_app(_settings(pressure_settings, context_length=4096), models_dir=folder)
    _load(qtbot, app, folder / "small-f16.gguf", 1024)  # the fit check chose 1024 tokens
    with qtbot.waitSignal(app.governor.switched, timeout=30_000):
        memory_eater()
    qtbot.waitUntil(lambda: app.inference.model is not None and app.inference.model.quantization == "q4_k_m")
    assert app.inference.model is not None and app.inference.model.context_length == 1024


def test_a_failed_swap_leaves_the_governor_on_the_rung_really_loaded(
    qtbot: QtBot, make_app, small_pair: Path, tmp_path: Path, pressure_settings, memory_eater
) -> None:
    folder = _copy(small_pair, ("small-f16.gguf", "small-q4_k_m.gguf"), tmp_path / "m")
    app = make_app(pressure_settings, models_dir=folder)
    _load(qtbot, app, folder / "small-f16.gguf")
    target = folder / "small-q4_k_m.gguf"
    target.write_bytes(target.read_bytes()[:5000])  # broken after the scan: the swap's load fails
    with qtbot.waitSignal(app.inference.model_load_failed, timeout=30_000):
        memory_eater()
    assert app.inference.model is not None and app.inference.model.quantization == "f16"
    qtbot.waitUntil(lambda: app.governor.state is not None and app.governor.state.current_rung == "f16")
    assert "truncated" in app.window.banner.label.text()


def test_a_cancelled_quantization_does_not_leave_a_swap_behind(
    qtbot: QtBot, make_app, small_pair: Path, tmp_path: Path, pressure_settings, memory_eater
) -> None:
    folder = _copy(small_pair, ("small-f16.gguf",), tmp_path / "m")
    app = make_app(_consenting(pressure_settings), models_dir=folder)
    _load(qtbot, app, folder / "small-f16.gguf")
    with qtbot.waitSignal(app.quantization.started, timeout=30_000) as started:
        memory_eater()  # the governor asks the quantizer for a lower rung
    wanted = started.args[0].rung
    with qtbot.waitSignal(app.quantization.cancelled, timeout=10_000):
        app.quantization.cancel()
    qtbot.waitUntil(lambda: app.governor.state is not None and app.governor.state.current_rung == "f16")

    # The user makes that rung by hand later: it is just a new file, not the governor's swap.
    switched: list[object] = []
    app.governor.switched.connect(switched.append)
    with qtbot.waitSignal(app.quantization.finished, timeout=60_000):
        app.quantization.quantize(folder / "small-f16.gguf", wanted)
    wait_for_samples(qtbot, app, 3)
    assert switched == []
    assert app.inference.model is not None and app.inference.model.quantization == "f16"


def test_a_decision_about_one_family_is_dropped_when_the_user_switches_to_another(
    qtbot: QtBot,
    make_app,
    small_pair: Path,
    tiny_model: Path,
    tmp_path: Path,
    pressure_settings,
    memory_eater,
) -> None:
    folder = _copy(small_pair, ("small-f16.gguf", "small-q4_k_m.gguf"), tmp_path / "m")
    shutil.copy(tiny_model, folder / "tiny-q4_k_m.gguf")
    app = make_app(pressure_settings, models_dir=folder)
    _load(qtbot, app, folder / "small-f16.gguf")
    with qtbot.waitSignal(app.chat.reply_token, timeout=10_000):
        app.window.send("A long reply: the governor's swap must wait for it")
    switched: list[object] = []
    app.governor.switched.connect(switched.append)
    with qtbot.waitSignal(app.governor.pressure_changed, timeout=30_000):
        memory_eater()
    qtbot.wait(1500)  # the decision to step down is made and waits for the reply
    app.load_model(folder / "tiny-q4_k_m.gguf")  # the user picks another model meanwhile
    with qtbot.waitSignal(app.inference.model_loaded, timeout=20_000):
        app.chat.stop()
    with qtbot.waitSignal(app.chat.reply_finished, timeout=20_000):
        app.window.send("Short")
        app.chat.stop()
    wait_for_samples(qtbot, app, 2)
    assert switched == []
    assert app.inference.model is not None and app.inference.model.path == folder / "tiny-q4_k_m.gguf"


def test_a_model_loaded_before_the_library_knows_it_is_governed_once_the_scan_arrives(
    qtbot: QtBot, make_app, small_pair: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "m"
    folder.mkdir()
    app = make_app(models_dir=folder)
    qtbot.waitUntil(lambda: app.library.snapshot is not None, timeout=10_000)
    _copy(small_pair, ("small-f16.gguf", "small-q4_k_m.gguf"), folder)  # the rescan comes later
    with qtbot.waitSignal(app.inference.model_loaded, timeout=20_000):
        app.load_model(folder / "small-f16.gguf")
    qtbot.waitUntil(lambda: app.governor.family is not None, timeout=10_000)
    assert app.governor.family.rungs() == ("q4_k_m", "f16")
    qtbot.waitUntil(lambda: app.governor.state is not None and app.governor.state.current_rung == "f16")


def test_the_governor_estimates_and_weighs_the_conversation_off_the_gui_thread(
    qtbot: QtBot, make_app, small_pair: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_gui_thread: list[str] = []
    elsewhere: list[str] = []

    def recording(name: str, real):  # type: ignore[no-untyped-def]
        def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
            gui = QThread.currentThread() is QCoreApplication.instance().thread()
            (on_gui_thread if gui else elsewhere).append(name)
            return real(*args, **kwargs)

        return wrapper

    for name in ("family_report", "complexity_of", "sample_memory"):
        monkeypatch.setattr(governor_service, name, recording(name, getattr(governor_service, name)))
    folder = _copy(small_pair, ("small-f16.gguf", "small-q4_k_m.gguf"), tmp_path / "m")
    app = make_app({"sampling": {"max_tokens": 16}}, models_dir=folder)
    _load(qtbot, app, folder / "small-f16.gguf")
    with qtbot.waitSignal(app.chat.reply_finished, timeout=10_000):
        app.window.send("def f(x):\n    return x\nimport os\nclass A: pass")
    qtbot.wait(2500)
    assert {"family_report", "complexity_of", "sample_memory"} <= set(elsewhere)
    assert on_gui_thread == []


@pytest.mark.allow_error_logs  # llama.cpp logs its refusal as an error
def test_after_a_load_llama_cpp_refuses_nothing_loads_by_itself(
    qtbot: QtBot, make_app, small_pair: Path, tmp_path: Path
) -> None:
    # The header is valid, so the old model is freed first; then llama.cpp refuses the file.
    from tests.malformed_gguf import write_minimal

    folder = _copy(small_pair, ("small-f16.gguf", "small-q4_k_m.gguf"), tmp_path / "m")
    app = make_app(models_dir=folder)
    _load(qtbot, app, folder / "small-f16.gguf")
    refused = write_minimal(tmp_path / "newarch.gguf", "somenewarch")
    with qtbot.waitSignal(app.inference.model_load_failed, timeout=30_000):
        app.load_model(refused)
    assert app.inference.model is None
    loads: list[object] = []
    app.inference.model_loading.connect(lambda _id, ref: loads.append(ref))
    wait_for_samples(qtbot, app, 4)  # it used to load a rung in each of the sampler's rounds
    assert loads == [] and app.inference.model is None
    assert "could not load" in app.window.banner.label.text().lower()
    assert app.governor.family is None


def test_without_the_users_yes_the_governor_makes_no_file_and_offers_the_rung_once(
    qtbot: QtBot, make_app, small_pair: Path, tmp_path: Path, pressure_settings, memory_eater
) -> None:
    folder = _copy(small_pair, ("small-f16.gguf",), tmp_path / "m")
    app = make_app(pressure_settings, models_dir=folder)  # make_rungs_automatically: off, as shipped
    assert app.settings.memory.make_rungs_automatically is False
    _load(qtbot, app, folder / "small-f16.gguf")
    started: list[object] = []
    switched: list[object] = []
    app.quantization.started.connect(started.append)
    app.governor.switched.connect(switched.append)
    with qtbot.waitSignal(app.governor.rung_suggested, timeout=30_000) as suggested:
        memory_eater()
    wait_for_samples(qtbot, app, 3)  # more samples under pressure: still nothing is written
    assert started == [] and switched == []
    assert sorted(p.name for p in folder.iterdir()) == ["small-f16.gguf"]
    rung = suggested.args[0].wanted.rung
    banner = app.window.banner
    assert banner.isVisible() and banner.action_button.text() == f"Make {rung}"
    assert "would help" in banner.label.text()

    banner.hide()
    app.governor.rung_suggested.emit(suggested.args[0])  # the same family again: said once is enough
    assert not banner.isVisible()
    banner.show()

    with qtbot.waitSignal(app.quantization.finished, timeout=60_000) as made:
        qtbot.mouseClick(banner.action_button, Qt.MouseButton.LeftButton)  # the user says yes
    assert made.args[0] == folder / f"small-{rung}.gguf"
    assert app.inference.model is not None and app.inference.model.quantization == "f16"


def test_a_governor_notice_goes_when_the_user_loads_another_model(
    qtbot: QtBot,
    make_app,
    small_pair: Path,
    tiny_model: Path,
    tmp_path: Path,
    pressure_settings,
    memory_eater,
) -> None:
    folder = _copy(small_pair, ("small-f16.gguf", "small-q4_k_m.gguf"), tmp_path / "m")
    shutil.copy(tiny_model, folder / "tiny-q4_k_m.gguf")
    app = make_app(pressure_settings, models_dir=folder)
    _load(qtbot, app, folder / "small-f16.gguf")
    with qtbot.waitSignal(app.inference.model_loaded, timeout=30_000):
        memory_eater()  # the governor steps down to the q4_k_m file on disk
    banner = app.window.banner
    assert banner.isVisible() and "Switched to" in banner.label.text()  # kept after its own load
    with qtbot.waitSignal(app.inference.model_loaded, timeout=20_000):
        app.window.request_load(folder / "tiny-q4_k_m.gguf")  # the user's choice, another family
    assert not banner.isVisible()
