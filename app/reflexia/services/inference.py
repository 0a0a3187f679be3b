"""The one engine every client shares: a request queue in front of one worker thread.

llama.cpp contexts are stateful and not thread-safe, so every load, generation
and unload runs on one long-lived QThread, one at a time. Clients (the window,
the quick prompt, a local API) submit requests that name the client and the
conversation; the queue runs them in order, drops a queued load that a newer
load supersedes, and tells each client its place while it waits. Results come
back as past-tense signals carrying the request id, so a client drops what is
not its own. Stop is out of band: a ``threading.Event`` per request, which the
generation loop checks before every token and a load checks between tensors.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from reflexia.core.config.settings import Settings
from reflexia.core.engine.backend import Backend
from reflexia.core.engine.response_cache import CacheKey, ResponseCache, cache_key
from reflexia.core.engine.values import (
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    ModelRef,
    Provenance,
    TokenChunk,
)
from reflexia.core.errors import GenerationError, LoadCancelledError, ReflexiaError, as_user_error

log = logging.getLogger(__name__)

TOKEN_SIGNAL_INTERVAL_S = 1 / 60
SHUTDOWN_WAIT_MS = 10_000  # a load is aborted between tensors; this only bounds a stuck driver


def _provenance(request: GenerationRequest, model: ModelInfo | None) -> Provenance:
    """What made a reply to ``request``: read on the inference thread, where the model runs."""
    if model is None:
        return Provenance(request.conversation_id, request.role)
    return Provenance(
        request.conversation_id, request.role, model.ref, model.name, model.quantization, model.context_length
    )


class InferenceWorker(QObject):
    """Runs backend calls; lives on the inference thread (every slot runs there).

    Signals:
        loaded(int, ModelInfo), load_failed(int, ReflexiaError, ModelInfo | None), unloaded(int),
        token(int, str): new text, coalesced to ~60 signals a second;
        finished(int, GenerationResult), failed(int, ReflexiaError).
    """

    loaded = Signal(int, object)
    load_failed = Signal(int, object, object)  # request id, error, model still loaded
    unloaded = Signal(int)
    token = Signal(int, str)
    finished = Signal(int, object)
    failed = Signal(int, object)

    def __init__(self, backends: Mapping[str, Backend]) -> None:
        super().__init__()
        self._backends = dict(backends)
        self._current: Backend | None = None  # the backend holding the loaded model

    @Slot(int, object, int, object, object)
    def load(
        self,
        request_id: int,
        ref: ModelRef,
        context_length: int,
        gpu_layers: int | None,
        cancel: threading.Event,
    ) -> None:
        """Load ``ref`` with its backend (``gpu_layers`` None: as configured); on the inference thread."""
        backend = self._backends.get(ref.backend)
        if backend is None:
            error = GenerationError(f"No {ref.backend} backend is set up to load {ref}")
            self.load_failed.emit(request_id, error, self._current.model if self._current else None)
            return
        try:
            if self._current is not None and self._current is not backend:
                self._current.unload()  # one model at a time, whichever backend runs it
                self._current = None
            info = backend.load(ref, context_length, cancel, gpu_layers=gpu_layers)
        except Exception as exc:
            log.warning("load of %s failed: %s", ref.label, exc)
            self._current = backend if backend.model is not None else None
            self.load_failed.emit(request_id, as_user_error(exc, "loading the model"), backend.model)
            return
        self._current = backend
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
            if self._current is None:
                raise GenerationError("No model is loaded: pick one in the model menu first")
            result = self._current.generate(request, on_token, cancel)
            model = self._current.model
            result = replace(result, made_by=_provenance(request, model))
        except Exception as exc:
            log.warning("generation %d failed: %s", request_id, exc)
            self.failed.emit(request_id, as_user_error(exc, "generating"))
            return
        if pending and not cancel.is_set():
            emit(request_id, "".join(pending))
        self.finished.emit(request_id, result)

    @Slot(int)
    def unload(self, request_id: int) -> None:
        """Free the model; runs on the inference thread. ``unloaded`` follows, whatever happened."""
        try:
            if self._current is not None:
                self._current.unload()
        except Exception as exc:  # the model is gone for us either way: the queue must go on
            log.warning("unloading failed: %s", exc, exc_info=exc)
        finally:
            self._current = None
            self.unloaded.emit(request_id)

    @Slot(object)
    def apply_settings(self, settings: Settings) -> None:
        """Changed settings for every backend; runs on the inference thread, between requests."""
        for backend in self._backends.values():
            try:
                backend.apply_settings(settings)
            except Exception as exc:  # a backend that refuses new settings keeps its old ones
                log.warning("%s could not take the new settings: %s", backend.name, exc, exc_info=exc)

    @Slot(str)
    def forget_conversation(self, conversation_id: str) -> None:
        """Drop a conversation's saved cache; runs on the inference thread."""
        forget = getattr(self._current, "forget_conversation", None)
        if forget is not None:
            forget(conversation_id)

    def close(self) -> None:
        """Free every backend's model (only once the thread has ended)."""
        for backend in self._backends.values():
            backend.unload()
            close = getattr(backend, "close", None)  # a server backend's HTTP connections
            if close is not None:
                close()


RequestKind = Literal["generate", "load", "unload"]


@dataclass
class _Ticket:
    id: int
    client: str
    kind: RequestKind
    cancel: threading.Event = field(default_factory=threading.Event)
    request: GenerationRequest | None = None
    ref: ModelRef | None = None
    context_length: int = 0
    gpu_layers: int | None = None  # None: as configured
    cache_key: CacheKey | None = None


class InferenceService(QObject):
    """The request queue in front of the one engine. Methods are called on the GUI thread.

    Signals:
        request_queued(int, int): a request waits; its place (1 = next). Sent again as it moves up.
        request_dropped(int, str): a request ended without running (cancelled, or a newer load
            superseded it), with the reason.
        model_loading(int, ModelRef): a load started.
        model_loaded(int, ModelInfo), model_unloaded(),
        model_load_failed(int, ReflexiaError, ModelInfo | None): with the model still loaded, if any
            (a header-valid file llama.cpp refuses has freed the old one already).
        generation_started(int): request id of a reply that started.
        token_generated(int, str): request id and the next piece of text (one or more tokens).
        generation_finished(int, GenerationResult), generation_failed(int, ReflexiaError).
        request_refused(str): why a request was not accepted.
        busy_changed(bool): the engine started or stopped working.
    """

    request_queued = Signal(int, int)
    request_dropped = Signal(int, str)
    model_loading = Signal(int, object)
    model_loaded = Signal(int, object)
    model_load_failed = Signal(int, object, object)  # request id, error, the model still loaded (or None)
    model_unloaded = Signal()
    generation_started = Signal(int)
    token_generated = Signal(int, str)
    generation_finished = Signal(int, object)
    generation_failed = Signal(int, object)
    request_refused = Signal(str)
    busy_changed = Signal(bool)

    _load_requested = Signal(int, object, int, object, object)
    _generate_requested = Signal(int, object, object)
    _unload_requested = Signal(int)
    _forget_requested = Signal(str)
    _settings_changed = Signal(object)

    def __init__(
        self, backends: Mapping[str, Backend], *, cache_entries: int = 0, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.response_cache = ResponseCache(cache_entries)
        self._ids = itertools.count(1)
        self._thread = QThread()
        self._thread.setObjectName("inference")
        self._worker = InferenceWorker(backends)
        self._worker.moveToThread(self._thread)
        # Connect after moveToThread so the worker's slots are queued onto its thread.
        self._load_requested.connect(self._worker.load)
        self._generate_requested.connect(self._worker.generate)
        self._unload_requested.connect(self._worker.unload)
        self._forget_requested.connect(self._worker.forget_conversation)
        self._settings_changed.connect(self._worker.apply_settings)
        self._worker.loaded.connect(self._on_loaded)
        self._worker.load_failed.connect(self._on_load_failed)
        self._worker.unloaded.connect(self._on_unloaded)
        self._worker.token.connect(self._on_token)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._model: ModelInfo | None = None
        self._queue: deque[_Ticket] = deque()
        self._running: _Ticket | None = None
        self._dispatch_timer = QTimer(self)  # dispatch after the caller has its request id
        self._dispatch_timer.setSingleShot(True)
        self._dispatch_timer.setInterval(0)
        self._dispatch_timer.timeout.connect(self._dispatch)
        self._closed = False
        self._thread.start()

    # -- state -------------------------------------------------------------
    @property
    def model(self) -> ModelInfo | None:
        """The loaded model, as last reported by the worker."""
        return self._model

    def _pending(self, kind: RequestKind) -> bool:
        running = self._running is not None and self._running.kind == kind
        return running or any(t.kind == kind for t in self._queue)

    @property
    def is_generating(self) -> bool:
        """True while a reply is being produced or waits in the queue."""
        return self._pending("generate")

    @property
    def is_loading(self) -> bool:
        """True while a model load runs or waits in the queue."""
        return self._pending("load")

    @property
    def is_busy(self) -> bool:
        """True while anything runs or waits."""
        return self._running is not None or bool(self._queue)

    def position(self, request_id: int) -> int | None:
        """0 while the request runs, 1.. while it waits, None once it has ended."""
        if self._running is not None and self._running.id == request_id:
            return 0
        return next((i + 1 for i, t in enumerate(self._queue) if t.id == request_id), None)

    def running_client(self) -> str | None:
        """The client whose request runs now."""
        return self._running.client if self._running is not None else None

    # -- requests ----------------------------------------------------------
    def submit(self, request: GenerationRequest, client: str = "window") -> int | None:
        """Queue a reply; None (and ``request_refused``) when no model is loaded or on its way.

        The request's role, with the model, the messages and greedy sampling, decides whether a
        kept answer may be given again from the response cache.
        """
        if not self.can_generate():
            return None
        return self._enqueue(_Ticket(next(self._ids), client, "generate", request=request))

    def can_generate(self) -> bool:
        """Whether a reply can be queued now; if not, ``request_refused`` says why."""
        if self._closed:
            return False
        if self._model is None and not self.is_loading:
            self.request_refused.emit("No model is loaded: pick one in the model menu first")
            return False
        return True

    def load_model(
        self, ref: ModelRef, context_length: int, client: str = "window", *, gpu_layers: int | None = None
    ) -> int:
        """Queue a load; loads and unloads still waiting are dropped, a running load is abandoned.

        ``gpu_layers`` overrides the configured offload (the fit check's partial offload).
        """
        for ticket in [t for t in self._queue if t.kind in ("load", "unload")]:
            self._queue.remove(ticket)
            self.request_dropped.emit(ticket.id, "superseded by a newer load")
        if self._running is not None and self._running.kind == "load":
            self._running.cancel.set()  # the worker gives up between tensors
        ticket = _Ticket(next(self._ids), client, "load", ref=ref, context_length=context_length)
        ticket.gpu_layers = gpu_layers
        return self._enqueue(ticket)

    def unload(self, client: str = "window") -> int:
        """Queue freeing the model."""
        return self._enqueue(_Ticket(next(self._ids), client, "unload"))

    def stop(self, request_id: int | None) -> None:
        """Stop one request: a running one within a token, a waiting one at once."""
        if request_id is None:
            return
        if self._running is not None and self._running.id == request_id:
            self._running.cancel.set()
            return
        ticket = next((t for t in self._queue if t.id == request_id), None)
        if ticket is not None:
            self._queue.remove(ticket)
            self.request_dropped.emit(request_id, "cancelled before it started")
            self._announce_places()
            self._busy_may_have_changed()

    def forget_conversation(self, conversation_id: str) -> None:
        """Drop the engine's saved cache of a conversation (deleted, or started over)."""
        self._forget_requested.emit(conversation_id)

    def apply_settings(self, settings: Settings) -> None:
        """Changed settings for the backends: load options from the next load, folders and server now."""
        self._settings_changed.emit(settings)

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Drop waiting requests, stop the running one, end the thread, free the model.

        Returns False if the worker did not end within ``timeout_ms``; the model is
        then left to the operating system rather than freed under a running call.
        """
        self._closed = True
        self._queue.clear()
        if self._running is not None:
            self._running.cancel.set()
        self._thread.quit()
        if not self._thread.wait(timeout_ms):
            log.error(
                "the inference thread did not stop within %d ms; quitting without freeing it", timeout_ms
            )
            return False
        self._worker.close()  # the worker thread is gone, so this thread may touch the backends
        return True

    def _enqueue(self, ticket: _Ticket) -> int:
        was_busy = self.is_busy
        self._queue.append(ticket)
        if not was_busy:
            self.busy_changed.emit(True)
        self._dispatch_timer.start()
        return ticket.id

    @Slot()
    def _dispatch(self) -> None:
        # Runs from the event loop, after the caller of submit() holds its request id.
        if self._closed:
            return
        if self._running is None and self._queue:
            self._start(self._queue.popleft())
        self._announce_places()

    def _start(self, ticket: _Ticket) -> None:
        self._running = ticket
        if ticket.kind == "load":
            assert ticket.ref is not None
            self.model_loading.emit(ticket.id, ticket.ref)
            ticket_args = (ticket.id, ticket.ref, ticket.context_length, ticket.gpu_layers, ticket.cancel)
            self._load_requested.emit(*ticket_args)
        elif ticket.kind == "unload":
            self._unload_requested.emit(ticket.id)
        else:
            assert ticket.request is not None
            self.generation_started.emit(ticket.id)
            if self._model is not None:
                ticket.cache_key = cache_key(ticket.request, self._model, ticket.request.role)
            kept = self.response_cache.get(ticket.cache_key)
            if kept is not None:  # the same greedy question again: no need to generate
                self.token_generated.emit(ticket.id, kept.text)
                self._finish(ticket.id)
                self.generation_finished.emit(ticket.id, kept)
                return
            self._generate_requested.emit(ticket.id, ticket.request, ticket.cancel)

    def _announce_places(self) -> None:
        for place, waiting in enumerate(self._queue, start=1):
            self.request_queued.emit(waiting.id, place)

    def _finish(self, request_id: int) -> None:
        if self._running is not None and self._running.id == request_id:
            self._running = None
        self._busy_may_have_changed()
        self._dispatch_timer.start()

    def _busy_may_have_changed(self) -> None:
        if not self.is_busy:
            self.busy_changed.emit(False)

    # -- worker results (queued onto the GUI thread) -----------------------
    @Slot(int, object)
    def _on_loaded(self, request_id: int, info: ModelInfo) -> None:
        self._model = info
        self._finish(request_id)
        self.model_loaded.emit(request_id, info)

    @Slot(int, object, object)
    def _on_load_failed(self, request_id: int, error: ReflexiaError, still_loaded: ModelInfo | None) -> None:
        self._model = still_loaded  # a failed load may have freed the previous model
        self._finish(request_id)
        if isinstance(error, LoadCancelledError):
            self.request_dropped.emit(request_id, "superseded by a newer load")
            if still_loaded is None:
                self.model_unloaded.emit()
            return
        self.model_load_failed.emit(request_id, error, still_loaded)

    @Slot(int)
    def _on_unloaded(self, request_id: int) -> None:
        self._model = None
        self._finish(request_id)
        self.model_unloaded.emit()

    @Slot(int, str)
    def _on_token(self, request_id: int, text: str) -> None:
        running = self._running
        if running is not None and running.id == request_id and not running.cancel.is_set():
            self.token_generated.emit(request_id, text)

    @Slot(int, object)
    def _on_finished(self, request_id: int, result: GenerationResult) -> None:
        running = self._running
        if running is not None and running.id == request_id:
            self.response_cache.put(running.cache_key, result)
        self._finish(request_id)
        self.generation_finished.emit(request_id, result)

    @Slot(int, object)
    def _on_failed(self, request_id: int, error: ReflexiaError) -> None:
        self._finish(request_id)
        self.generation_failed.emit(request_id, error)
