"""The inference service: one worker thread owns the model for its whole life.

llama.cpp contexts are stateful and not thread-safe, so every load, generation
and unload runs on one long-lived QThread. Requests go in as queued signals;
results come back as past-tense signals carrying the request id, so the UI
can drop tokens of a reply it has already stopped. Stop is out of band: a
``threading.Event`` the generation loop checks before every token.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from reflexia.core.engine.backend import Backend, GenerationRequest, LoadParams, ModelInfo, TokenChunk
from reflexia.core.errors import GenerationError, ReflexiaError

log = logging.getLogger(__name__)

TOKEN_SIGNAL_INTERVAL_S = 1 / 60


def _as_user_error(exc: Exception, what: str) -> ReflexiaError:
    if isinstance(exc, ReflexiaError):
        return exc
    log.exception("unexpected error while %s", what)
    return GenerationError(f"Unexpected error while {what}: {exc}")


class InferenceWorker(QObject):
    """Runs backend calls; lives on the inference thread (every slot runs there).

    Signals:
        loaded(int, ModelInfo), load_failed(int, ReflexiaError, ModelInfo | None), unloaded(),
        token(int, str): new text, coalesced to ~60 signals a second;
        finished(int, GenerationResult), failed(int, ReflexiaError).
    """

    loaded = Signal(int, object)
    load_failed = Signal(int, object, object)  # request id, error, model still loaded
    unloaded = Signal()
    token = Signal(int, str)
    finished = Signal(int, object)
    failed = Signal(int, object)

    def __init__(self, backend: Backend) -> None:
        super().__init__()
        self._backend = backend

    @Slot(int, object, object)
    def load(self, request_id: int, path: Path, params: LoadParams) -> None:
        """Load ``path``; runs on the inference thread."""
        try:
            info = self._backend.load(path, params)
        except Exception as exc:
            log.warning("load of %s failed: %s", path, exc)
            self.load_failed.emit(request_id, _as_user_error(exc, "loading the model"), self._backend.model)
            return
        self.loaded.emit(request_id, info)

    @Slot(int, object, object)
    def generate(self, request_id: int, request: GenerationRequest, cancel: threading.Event) -> None:
        """Generate one reply; runs on the inference thread."""
        emit = self.token.emit
        pending: list[str] = []
        last_emit = 0.0

        def on_token(chunk: TokenChunk) -> None:
            # Coalesce tokens to at most ~60 signals a second: a queued signal per token
            # would keep the GUI thread (and the GIL) busy at hundreds of tokens a second.
            nonlocal last_emit
            pending.append(chunk.text)
            now = time.perf_counter()
            if now - last_emit >= TOKEN_SIGNAL_INTERVAL_S:
                last_emit = now
                text = "".join(pending)
                pending.clear()
                if text:
                    emit(request_id, text)

        log.info("generation %d started", request_id)
        try:
            result = self._backend.generate(request, on_token, cancel)
        except Exception as exc:
            log.warning("generation %d failed: %s", request_id, exc)
            self.failed.emit(request_id, _as_user_error(exc, "generating"))
            return
        if pending and not cancel.is_set():
            emit(request_id, "".join(pending))
        self.finished.emit(request_id, result)

    @Slot()
    def unload(self) -> None:
        """Free the model; runs on the inference thread."""
        self._backend.unload()
        self.unloaded.emit()


class InferenceService(QObject):
    """The one engine every window shares. Methods are called on the GUI thread.

    Signals:
        model_loading(Path): a load was queued.
        model_loaded(ModelInfo), model_load_failed(ReflexiaError), model_unloaded().
        generation_started(int): request id of a new reply.
        token_generated(int, str): request id and the next piece of text (one or more tokens).
        generation_finished(int, GenerationResult), generation_failed(int, ReflexiaError).
        request_refused(str): why a request was not accepted.
        busy_changed(bool): a load or generation started or ended.
    """

    model_loading = Signal(object)
    model_loaded = Signal(object)
    model_load_failed = Signal(object)
    model_unloaded = Signal()
    generation_started = Signal(int)
    token_generated = Signal(int, str)
    generation_finished = Signal(int, object)
    generation_failed = Signal(int, object)
    request_refused = Signal(str)
    busy_changed = Signal(bool)

    _load_requested = Signal(int, object, object)
    _generate_requested = Signal(int, object, object)
    _unload_requested = Signal()

    def __init__(self, backend: Backend, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._backend = backend
        self._ids = itertools.count(1)
        self._thread = QThread()
        self._thread.setObjectName("inference")
        self._worker = InferenceWorker(backend)
        self._worker.moveToThread(self._thread)
        # Connect after moveToThread so the worker's slots are queued onto its thread.
        self._load_requested.connect(self._worker.load)
        self._generate_requested.connect(self._worker.generate)
        self._unload_requested.connect(self._worker.unload)
        self._worker.loaded.connect(self._on_loaded)
        self._worker.load_failed.connect(self._on_load_failed)
        self._worker.unloaded.connect(self._on_unloaded)
        self._worker.token.connect(self._on_token)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._model: ModelInfo | None = None
        self._loading_id: int | None = None
        self._generation_id: int | None = None
        self._cancel = threading.Event()
        self._thread.start()

    @property
    def model(self) -> ModelInfo | None:
        """The loaded model, as last reported by the worker."""
        return self._model

    @property
    def is_generating(self) -> bool:
        """True while a reply is being produced."""
        return self._generation_id is not None

    @property
    def is_loading(self) -> bool:
        """True while a model load is queued or running."""
        return self._loading_id is not None

    def load_model(self, path: Path, params: LoadParams) -> int:
        """Queue a load; a running reply is stopped first. Returns the request id."""
        self.stop()
        request_id = next(self._ids)
        self._loading_id = request_id
        self.model_loading.emit(Path(path))
        self.busy_changed.emit(True)
        self._load_requested.emit(request_id, Path(path), params)
        return request_id

    def generate(self, request: GenerationRequest) -> int | None:
        """Start a reply; refused (with ``request_refused``) while busy or without a model."""
        if self._generation_id is not None:
            self.request_refused.emit("A reply is still being generated: stop it first (Esc)")
            return None
        if self._loading_id is not None:
            self.request_refused.emit("The model is still loading: wait a moment")
            return None
        if self._model is None:
            self.request_refused.emit("No model is loaded: pick one in the model menu first")
            return None
        request_id = next(self._ids)
        self._generation_id = request_id
        self._cancel = threading.Event()
        self.generation_started.emit(request_id)
        self.busy_changed.emit(True)
        self._generate_requested.emit(request_id, request, self._cancel)
        return request_id

    def stop(self) -> None:
        """Cancel the running reply; the worker stops before its next token."""
        self._cancel.set()

    def unload(self) -> None:
        """Queue freeing the model."""
        self.stop()
        self._unload_requested.emit()

    def shutdown(self) -> None:
        """Stop, end the worker thread and free the model (call once, at exit)."""
        self.stop()
        self._thread.quit()
        self._thread.wait()
        self._backend.unload()  # the worker thread is gone, so this thread may touch the backend

    @Slot(int, object)
    def _on_loaded(self, request_id: int, info: ModelInfo) -> None:
        self._model = info
        if request_id == self._loading_id:
            self._loading_id = None
            self.busy_changed.emit(self.is_generating)
        self.model_loaded.emit(info)

    @Slot(int, object, object)
    def _on_load_failed(self, request_id: int, error: ReflexiaError, still_loaded: ModelInfo | None) -> None:
        self._model = still_loaded  # a failed load may have freed the previous model
        if request_id == self._loading_id:
            self._loading_id = None
            self.busy_changed.emit(self.is_generating)
        self.model_load_failed.emit(error)

    @Slot()
    def _on_unloaded(self) -> None:
        self._model = None
        self.model_unloaded.emit()

    @Slot(int, str)
    def _on_token(self, request_id: int, text: str) -> None:
        if request_id == self._generation_id and not self._cancel.is_set():
            self.token_generated.emit(request_id, text)

    @Slot(int, object)
    def _on_finished(self, request_id: int, result: object) -> None:
        if request_id == self._generation_id:
            self._generation_id = None
            self.busy_changed.emit(self.is_loading)
        self.generation_finished.emit(request_id, result)

    @Slot(int, object)
    def _on_failed(self, request_id: int, error: ReflexiaError) -> None:
        if request_id == self._generation_id:
            self._generation_id = None
            self.busy_changed.emit(self.is_loading)
        self.generation_failed.emit(request_id, error)
