"""The governor against the real machine: a child process eats memory, the model steps down.

Thresholds are placed just above what this machine uses now, and the child
allocates enough (computed from the machine's actual total) to cross the high
threshold but not the critical one; it is killed at the end, freeing it all.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from reflexia.app import ReflexiaApp
from reflexia.core.memory.governor import Decision
from tests.qt.conftest import wait_for_samples


@pytest.fixture(scope="module")
def small_family(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small model at f16 and q4_k_m: replies at f16 last seconds, long enough to overlap."""
    from reflexia.core.models.model_factory import make_model
    from reflexia.core.models.quantizer import quantize_model

    folder = tmp_path_factory.mktemp("small-family")
    quantize_model(make_model(folder / "small-f16.gguf", size="small", seed=3), "q4_k_m")
    return folder


def _consenting(pressure: dict[str, object]) -> dict[str, object]:
    """The pressure settings with the user's yes to new files (memory.make_rungs_automatically)."""
    memory = {**pressure["memory"], "make_rungs_automatically": True}  # type: ignore[dict-item]
    return {**pressure, "memory": memory}


def _load(qtbot: QtBot, app: ReflexiaApp, model: Path) -> None:
    qtbot.waitUntil(lambda: app.library.snapshot is not None, timeout=10_000)
    with qtbot.waitSignal(app.inference.model_loaded, timeout=20_000):
        app.load_model(model)


def test_pressure_steps_the_model_down_between_replies_and_the_window_says_why(
    qtbot: QtBot, make_app, pressure_settings: dict[str, object], memory_eater, small_family: Path
) -> None:
    app = make_app(pressure_settings, models_dir=small_family)
    window = app.window
    _load(qtbot, app, small_family / "small-f16.gguf")
    assert app.governor.family is not None and app.governor.family.rungs() == ("q4_k_m", "f16")

    # A reply is running when pressure rises: the swap must wait for it.
    events: list[str] = []
    app.chat.reply_finished.connect(lambda result: events.append(f"reply ended: {result.stats.stop_reason}"))
    app.governor.switched.connect(lambda _decision: events.append("switched"))
    decisions: list[Decision] = []
    app.governor.switched.connect(decisions.append)
    with qtbot.waitSignal(app.chat.reply_token, timeout=10_000):
        window.send("Keep talking")
    with qtbot.waitSignal(app.governor.pressure_changed, timeout=30_000) as changed:
        memory_eater()
    assert changed.args[0] == "high"
    qtbot.wait(1200)  # more samples at high pressure while the reply goes on (unless it ends by itself)
    window.composer.stop_requested.emit()
    qtbot.waitUntil(lambda: "switched" in events, timeout=10_000)
    # The reply ended (stopped by the user, or on its own) before the swap: never cut by it.
    assert events[0].startswith("reply ended") and events[1] == "switched", events
    decision = decisions[0]
    assert (decision.from_rung, decision.to_rung, decision.kind) == ("f16", "q4_k_m", "step_down")
    assert "memory pressure high" in decision.reason
    qtbot.waitUntil(lambda: app.inference.model is not None and app.inference.model.quantization == "q4_k_m")
    assert window.banner.isVisible() and window.banner.kind == "info"
    assert "Switched to q4_k_m" in window.banner.label.text()
    assert "memory pressure high" in window.banner.label.text()
    assert "pressure high" in window.memory_status.pressure_label.text()
    assert window.quant_label.text() == "q4_k_m"

    # The conversation goes on, on the new rung.
    with qtbot.waitSignal(app.chat.reply_token, timeout=10_000):
        window.send("And now?")
    window.composer.stop_requested.emit()
    qtbot.waitUntil(lambda: not app.chat.is_replying)
    assert [m.role for m in app.chat.conversation.turns] == ["user", "assistant", "user", "assistant"]


def test_a_pinned_rung_stays_under_pressure(
    qtbot: QtBot, make_app, pressure_settings: dict[str, object], memory_eater, small_family: Path
) -> None:
    app = make_app(pressure_settings, models_dir=small_family)
    _load(qtbot, app, small_family / "small-f16.gguf")
    app.window.memory_status.pin("f16")
    assert app.window.memory_status.mode_button.text() == "Pinned: f16"
    switched: list[object] = []
    app.governor.switched.connect(switched.append)
    with qtbot.waitSignal(app.governor.pressure_changed, timeout=30_000):
        memory_eater()
    wait_for_samples(qtbot, app, 4)
    assert switched == []
    assert app.inference.model is not None and app.inference.model.quantization == "f16"


def test_a_missing_rung_is_made_by_the_quantizer_then_loaded(
    qtbot: QtBot,
    make_app,
    pressure_settings: dict[str, object],
    memory_eater,
    tiny_f16_model: Path,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "only-f16"
    folder.mkdir()
    source = folder / "tiny-f16.gguf"
    source.write_bytes(tiny_f16_model.read_bytes())
    app = make_app(_consenting(pressure_settings), models_dir=folder)  # the user agreed to new files
    _load(qtbot, app, source)
    assert app.governor.family is not None and app.governor.family.rungs() == ("f16",)
    made: list[Path] = []
    app.quantization.finished.connect(made.append)
    with qtbot.waitSignal(app.governor.switched, timeout=60_000) as switched:
        memory_eater()
    decision = switched.args[0]
    assert decision.needs_quantization and decision.from_rung == "f16"
    qtbot.waitUntil(
        lambda: app.inference.model is not None and app.inference.model.quantization == decision.to_rung,
        timeout=30_000,
    )
    assert made == [folder / f"tiny-{decision.to_rung}.gguf"]
    assert "Switched to" in app.window.banner.label.text()
