"""The inference service: one worker thread, signals in and out, out-of-band stop."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from pytestqt.qtbot import QtBot

from reflexia.core.engine.backend import GenerationRequest, GenerationResult, LoadParams, SamplingParams
from reflexia.core.engine.conversation import ChatMessage
from reflexia.core.engine.llama_cpp.engine import LlamaCppBackend
from reflexia.core.errors import ModelFileError
from reflexia.services.inference import InferenceService

ASK = (ChatMessage("user", "Hello"),)


def _service(qtbot: QtBot, model: Path | None) -> InferenceService:
    service = InferenceService(LlamaCppBackend())
    if model is not None:
        with qtbot.waitSignal(service.model_loaded, timeout=20_000):
            service.load_model(model, LoadParams(context_length=2048))
    return service


def test_load_generate_and_stream(qtbot: QtBot, tiny_model: Path) -> None:
    service = InferenceService(LlamaCppBackend())
    try:
        busy: list[bool] = []
        service.busy_changed.connect(busy.append)
        with qtbot.waitSignal(service.model_loaded, timeout=20_000) as loaded:
            service.load_model(tiny_model, LoadParams(context_length=2048))
        assert loaded.args[0].path == tiny_model
        assert service.model is not None and not service.is_loading
        pieces: list[str] = []
        service.token_generated.connect(lambda _id, text: pieces.append(text))
        with qtbot.waitSignal(service.generation_finished, timeout=20_000) as finished:
            request_id = service.generate(
                GenerationRequest(ASK, SamplingParams(temperature=0, max_tokens=64))
            )
        finished_id, result = finished.args
        assert finished_id == request_id
        assert isinstance(result, GenerationResult)
        assert result.stats.completion_tokens == 64
        assert pieces and "".join(pieces) == result.text
        assert busy == [True, False, True, False]
        assert not service.is_generating
    finally:
        service.shutdown()


def test_requests_while_busy_or_without_a_model_are_refused(qtbot: QtBot, small_model: Path) -> None:
    service = _service(qtbot, None)
    try:
        with qtbot.waitSignal(service.request_refused) as refused:
            assert service.generate(GenerationRequest(ASK)) is None
        assert "No model is loaded" in refused.args[0]
        with qtbot.waitSignal(service.model_loaded, timeout=20_000):
            service.load_model(small_model, LoadParams(context_length=2048))
        long = GenerationRequest(ASK, SamplingParams(max_tokens=100_000), ignore_eos=True)
        assert service.generate(long) is not None
        with qtbot.waitSignal(service.request_refused) as refused:
            assert service.generate(GenerationRequest(ASK)) is None
        assert "still being generated" in refused.args[0]
        with qtbot.waitSignal(service.generation_finished, timeout=5_000) as finished:
            service.stop()
        assert finished.args[1].stats.stop_reason == "cancelled"
    finally:
        service.shutdown()


def test_stop_ends_a_reply_quickly_and_drops_late_tokens(qtbot: QtBot, small_model: Path) -> None:
    service = _service(qtbot, small_model)
    try:
        late: list[str] = []
        long = GenerationRequest(ASK, SamplingParams(max_tokens=100_000), ignore_eos=True)
        with qtbot.waitSignal(service.token_generated, timeout=10_000):
            service.generate(long)
        qtbot.wait(100)
        stopped_at = time.perf_counter()
        service.token_generated.connect(lambda _id, text: late.append(text))
        with qtbot.waitSignal(service.generation_finished, timeout=5_000) as finished:
            service.stop()
        elapsed = time.perf_counter() - stopped_at
        assert finished.args[1].stats.stop_reason == "cancelled"
        assert elapsed < 0.2, f"stop took {elapsed * 1000:.0f} ms"
        assert late == []
    finally:
        service.shutdown()


def test_a_corrupt_model_fails_to_load_and_the_loaded_one_stays(
    qtbot: QtBot, tiny_model: Path, tmp_path: Path
) -> None:
    service = _service(qtbot, tiny_model)
    try:
        broken = tmp_path / "broken.gguf"
        broken.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 16)
        with qtbot.waitSignal(service.model_load_failed, timeout=10_000) as failed:
            service.load_model(broken, LoadParams())
        assert isinstance(failed.args[0], ModelFileError)
        assert str(broken) in str(failed.args[0])
        assert service.model is not None and service.model.path == tiny_model
        with qtbot.waitSignal(service.generation_finished, timeout=10_000):
            service.generate(GenerationRequest(ASK, SamplingParams(max_tokens=8)))
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
