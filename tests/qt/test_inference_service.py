"""The inference service: one worker thread, signals in and out, out-of-band stop."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from pytestqt.qtbot import QtBot

from reflexia.core.engine.conversation import ChatMessage
from reflexia.core.engine.llama_cpp.engine import LlamaCppBackend
from reflexia.core.engine.llama_cpp.options import LlamaOptions
from reflexia.core.engine.values import GenerationRequest, GenerationResult, ModelRef, SamplingParams
from reflexia.core.errors import ModelFileError
from reflexia.services.inference import InferenceService

ASK = (ChatMessage("user", "Hello"),)
LONG = GenerationRequest(ASK, SamplingParams(max_tokens=100_000), "long", ignore_eos=True)


def _service(qtbot: QtBot, model: Path | None, threads: int = 2) -> InferenceService:
    service = InferenceService({"llama.cpp": LlamaCppBackend(LlamaOptions(threads=threads))})
    if model is not None:
        with qtbot.waitSignal(service.model_loaded, timeout=20_000):
            service.load_model(ModelRef.file(model), 2048)
    return service


def test_load_generate_and_stream(qtbot: QtBot, tiny_model: Path) -> None:
    service = _service(qtbot, None)
    try:
        busy: list[bool] = []
        service.busy_changed.connect(busy.append)
        with qtbot.waitSignal(service.model_loaded, timeout=20_000) as loaded:
            load_id = service.load_model(ModelRef.file(tiny_model), 2048)
        assert loaded.args[0] == load_id and loaded.args[1].path == tiny_model
        assert service.model is not None and not service.is_loading
        pieces: list[str] = []
        service.token_generated.connect(lambda _id, text: pieces.append(text))
        with qtbot.waitSignal(service.generation_finished, timeout=20_000) as finished:
            request_id = service.submit(GenerationRequest(ASK, SamplingParams(temperature=0, max_tokens=64)))
        finished_id, result = finished.args
        assert finished_id == request_id
        assert isinstance(result, GenerationResult)
        assert result.stats.completion_tokens == 64
        assert pieces and "".join(pieces) == result.text
        assert busy == [True, False, True, False]
        assert not service.is_generating
    finally:
        service.shutdown()


def test_without_a_model_a_request_is_refused_with_the_reason(qtbot: QtBot) -> None:
    service = _service(qtbot, None)
    try:
        with qtbot.waitSignal(service.request_refused) as refused:
            assert service.submit(GenerationRequest(ASK)) is None
        assert "No model is loaded" in refused.args[0]
    finally:
        service.shutdown()


def test_a_second_client_waits_its_turn_and_knows_its_place(qtbot: QtBot, small_model: Path) -> None:
    service = _service(qtbot, small_model)
    try:
        order: list[tuple[str, int]] = []
        service.generation_started.connect(lambda rid: order.append(("started", rid)))
        service.generation_finished.connect(lambda rid, _result: order.append(("finished", rid)))
        with qtbot.waitSignal(service.token_generated, timeout=10_000):
            window = service.submit(LONG, "window")
        with qtbot.waitSignal(service.request_queued) as queued:
            quick = service.submit(GenerationRequest(ASK, SamplingParams(max_tokens=8), "quick"), "quick")
        assert queued.args == [quick, 1]
        assert service.position(quick) == 1 and service.position(window) == 0
        qtbot.wait(200)
        assert ("started", quick) not in order  # never two generations at once
        with qtbot.waitSignal(
            service.generation_finished, timeout=10_000, check_params_cb=lambda i, _r: i == quick
        ):
            service.stop(window)
        assert order == [("started", window), ("finished", window), ("started", quick), ("finished", quick)]
    finally:
        service.shutdown()


def test_stop_acts_on_one_request_only(qtbot: QtBot, small_model: Path) -> None:
    service = _service(qtbot, small_model)
    try:
        with qtbot.waitSignal(service.token_generated, timeout=10_000):
            window = service.submit(LONG, "window")
        quick = service.submit(GenerationRequest(ASK, SamplingParams(max_tokens=8), "quick"), "quick")
        with qtbot.waitSignal(service.request_dropped) as dropped:
            service.stop(quick)  # the waiting one is withdrawn at once
        assert dropped.args[0] == quick
        assert service.position(quick) is None
        qtbot.wait(200)
        assert service.position(window) == 0  # the window's reply goes on
        with qtbot.waitSignal(service.token_generated, timeout=5_000):
            pass
        with qtbot.waitSignal(service.generation_finished, timeout=5_000) as finished:
            service.stop(window)
        assert finished.args[0] == window and finished.args[1].stats.stop_reason == "cancelled"
    finally:
        service.shutdown()


def test_stop_drops_late_tokens(qtbot: QtBot, small_model: Path) -> None:
    service = _service(qtbot, small_model)
    try:
        late: list[str] = []
        with qtbot.waitSignal(service.token_generated, timeout=10_000):
            request_id = service.submit(LONG)
        service.token_generated.connect(lambda _id, text: late.append(text))
        with qtbot.waitSignal(service.generation_finished, timeout=5_000) as finished:
            service.stop(request_id)
        assert finished.args[1].stats.stop_reason == "cancelled"
        assert late == []
    finally:
        service.shutdown()


def test_many_clicks_in_the_model_menu_load_only_the_last_choice(
    qtbot: QtBot, tiny_model: Path, tiny_f16_model: Path, small_model: Path
) -> None:
    service = _service(qtbot, None)
    try:
        loaded: list[int] = []
        dropped: list[int] = []
        service.model_loaded.connect(lambda rid, _info: loaded.append(rid))
        service.request_dropped.connect(lambda rid, _why: dropped.append(rid))
        choices = [tiny_f16_model, small_model, tiny_model, small_model, tiny_f16_model, tiny_model]
        ids = [service.load_model(ModelRef.file(path), 2048) for path in choices]
        qtbot.waitUntil(lambda: not service.is_busy, timeout=20_000)
        assert loaded == [ids[-1]]  # one load ran (the first may have started and been abandoned)
        assert sorted(dropped) == ids[:-1]
        assert service.model is not None and service.model.path == tiny_model
    finally:
        service.shutdown()


def test_quitting_during_a_load_abandons_it(qtbot: QtBot, small_model: Path, caplog) -> None:
    service = _service(qtbot, None)
    service.load_model(ModelRef.file(small_model), 2048)
    qtbot.wait(1)  # dispatched: the worker has it
    assert service.shutdown(timeout_ms=10_000)
    messages = [r.getMessage() for r in caplog.records]
    assert not any(m.startswith("loaded small") for m in messages), messages


def test_a_corrupt_model_fails_to_load_and_the_loaded_one_stays(
    qtbot: QtBot, tiny_model: Path, tmp_path: Path
) -> None:
    service = _service(qtbot, tiny_model)
    try:
        broken = tmp_path / "broken.gguf"
        broken.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 16)
        with qtbot.waitSignal(service.model_load_failed, timeout=10_000) as failed:
            service.load_model(ModelRef.file(broken), 2048)
        assert isinstance(failed.args[1], ModelFileError)
        assert str(broken) in str(failed.args[1])
        assert service.model is not None and service.model.path == tiny_model
        with qtbot.waitSignal(service.generation_finished, timeout=10_000):
            service.submit(GenerationRequest(ASK, SamplingParams(max_tokens=8)))
    finally:
        service.shutdown()


def test_unload_frees_the_model(qtbot: QtBot, tiny_model: Path) -> None:
    service = _service(qtbot, tiny_model)
    try:
        with qtbot.waitSignal(service.model_unloaded, timeout=10_000):
            service.unload()
        assert service.model is None
    finally:
        service.shutdown()


class _Emitter(QObject):
    value = Signal(int, str)


def test_signal_emission_keeps_reference_counts(qtbot: QtBot) -> None:
    """PySide6 6.12.0 dropped a reference to True per emit and aborted the app mid-reply."""
    emitter = _Emitter()
    received: list[int] = []
    emitter.value.connect(lambda number, _text: received.append(number))
    before = sys.getrefcount(True)
    for number in range(20_000):
        emitter.value.emit(number, "x")
    assert len(received) == 20_000
    assert sys.getrefcount(True) >= before - 100
