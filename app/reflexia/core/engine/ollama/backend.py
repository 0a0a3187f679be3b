"""The Ollama backend: models run by an Ollama server, reached with the ``ollama`` client.

Ollama loads, schedules and evicts models itself. This backend asks it to
preload a model (a chat with no messages, as Ollama documents), streams
replies, and asks it to unload one (``keep_alive=0``). How long an idle model
stays loaded is left to the server's own ``OLLAMA_KEEP_ALIVE``: a reply after
an eviction simply loads the model again, with the same ``num_ctx``.

Every failure reaches the caller as a :class:`ReflexiaError` with a one-line
message; the client's own ``httpx`` and ``ollama`` exceptions never leak.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any

import httpx
import ollama

from reflexia.core.config.settings import Settings
from reflexia.core.engine.grounding import grounded_messages
from reflexia.core.engine.values import (
    BackendCapabilities,
    GenerationRequest,
    GenerationResult,
    GenerationStats,
    ModelInfo,
    ModelRef,
    StopReason,
    TokenCallback,
    TokenChunk,
)
from reflexia.core.errors import (
    GenerationError,
    LoadCancelledError,
    ModelLoadError,
    ReflexiaError,
    ServerUnavailableError,
)

log = logging.getLogger(__name__)

# A load, or a reply's first token, waits while the server reads the model from disk:
# minutes for a large model. Only connecting is held to the backend's short timeout.
_SLOW_READ_S = 600.0
_NS_PER_S = 1e9


def _one_line(error: BaseException | str) -> str:
    """The first line of an error's message, or the exception's type when it has none."""
    text = str(error).strip()
    if text:
        return text.splitlines()[0]
    return type(error).__name__ if isinstance(error, BaseException) else "no reason given"


def _is_named(listed: str, wanted: str) -> bool:
    """Whether the server's ``listed`` name is ``wanted``, which may leave out the implied ``:latest``."""
    if listed == wanted:
        return True
    return ":" not in wanted.rpartition("/")[2] and listed == f"{wanted}:latest"


def _count(value: Any) -> int:
    """An integer from the server's free-form model info, or 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class OllamaBackend:
    """Runs models on an Ollama server. Not thread-safe: one thread owns it.

    ``cancel`` events may be set from any thread; a reply stops at the next streamed chunk.
    """

    name = "ollama"
    capabilities = BackendCapabilities(in_process=False, has_rungs=False, can_quantize=False)

    def __init__(self, host: str, *, timeout_s: float = 10.0) -> None:
        """Prepare a client for the server at ``host``; nothing is sent until a method asks.

        Args:
            host: The server's URL, such as ``http://127.0.0.1:11434``.
            timeout_s: How long to wait to connect, and for the server's quick answers.
        """
        self._timeout_s = timeout_s
        self.host = host
        self._quick, self._slow = self._clients(host)
        self._info: ModelInfo | None = None

    def _clients(self, host: str) -> tuple[ollama.Client, ollama.Client]:
        quick = ollama.Client(host=host, timeout=self._timeout_s)  # list, show, unload
        slow = ollama.Client(host=host, timeout=httpx.Timeout(self._timeout_s, read=_SLOW_READ_S))
        return quick, slow

    def apply_settings(self, settings: Settings) -> None:
        """Talk to the server at the configured host from the next request on.

        The loaded model's name is asked of the new server from the next reply; one it does
        not have fails that reply with the server's own message, and the app goes on.
        """
        if settings.ollama.host == self.host:
            return
        self.close()
        self.host = settings.ollama.host
        self._quick, self._slow = self._clients(self.host)

    @property
    def model(self) -> ModelInfo | None:
        """The loaded model, if any."""
        return self._info

    @contextlib.contextmanager
    def _translated(self, failure: type[ReflexiaError], action: str) -> Iterator[None]:
        """Raise the client's exceptions as user-presentable errors.

        Args:
            failure: What a refusal by the server (an Ollama ``ResponseError``) becomes.
            action: What was being done, for messages: ``"load llama3.2"``.
        """
        try:
            yield
        except ollama.ResponseError as error:
            raise failure(f"Ollama could not {action}: {_one_line(error.error)}") from error
        # The client raises the builtin ConnectionError for a refused request, but lets httpx's
        # errors out of a stream: both mean nothing answers at the address.
        except (httpx.ConnectError, httpx.ConnectTimeout, ConnectionError) as error:
            raise ServerUnavailableError(
                f'Ollama is not answering at {self.host}: start it with "ollama serve" or change OLLAMA_HOST'
            ) from error
        except httpx.TimeoutException as error:
            raise ServerUnavailableError(
                f"Ollama at {self.host} stopped answering while trying to {action} ({type(error).__name__})"
            ) from error
        except (httpx.TransportError, OSError) as error:
            raise ServerUnavailableError(
                f"Ollama at {self.host} dropped the connection while trying to {action}: {_one_line(error)}"
            ) from error
        except (httpx.HTTPError, ValueError) as error:  # ValueError: a body that is not Ollama's JSON
            raise ServerUnavailableError(
                f"The server at {self.host} does not answer like Ollama: {_one_line(error)}"
            ) from error

    def _listed(self, failure: type[ReflexiaError]) -> Sequence[ollama.ListResponse.Model]:
        with self._translated(failure, "list its models"):
            models = self._quick.list().models
        return models

    def list_models(self) -> list[ModelRef]:
        """The models the server has, by the names it gives them (``llama3.2:latest``).

        Raises:
            ServerUnavailableError: the server does not answer, or not as Ollama does.
        """
        return [ModelRef.server("ollama", m.model) for m in self._listed(ServerUnavailableError) if m.model]

    def load(
        self,
        ref: ModelRef,
        context_length: int,
        cancel: threading.Event | None = None,
        *,
        gpu_layers: int | None = None,  # the server places layers itself
    ) -> ModelInfo:
        """Have the server load ``ref`` with a ``context_length``-token context, replacing the current model.

        The request itself cannot be interrupted: ``cancel`` is honoured before it is sent and
        after it returns (then the new model is unloaded again).

        Raises:
            ModelLoadError: ``ref`` is not an Ollama model, the server lacks it, or refused to load it.
            LoadCancelledError: ``cancel`` was set.
            ServerUnavailableError: the server does not answer.
        """
        started = time.perf_counter()
        if ref.backend != self.name:
            raise ModelLoadError(f"{ref.label} is a {ref.backend} model: the Ollama backend cannot load it")
        if not ref.name:
            raise ModelLoadError("No Ollama model name given: pick one of the server's models")
        self._check_cancel(cancel, ref)
        entry = self._find(ref.name)
        name = entry.model or ref.name
        architecture, quantization, parameter_count, trained = self._describe(name)
        # Ollama itself caps num_ctx at the trained length; report the context it will really use.
        n_ctx = min(context_length, trained) if trained > 0 else context_length
        self._check_cancel(cancel, ref)
        self.unload()
        with self._translated(ModelLoadError, f"load {name}"):
            self._slow.chat(name, messages=[], options={"num_ctx": n_ctx})
        if cancel is not None and cancel.is_set():
            self._unload_named(name)  # superseded while the server was loading it: free its memory
            self._check_cancel(cancel, ref)
        load_s = time.perf_counter() - started
        self._info = ModelInfo(
            ref=ref,
            name=name,
            architecture=architecture,
            quantization=quantization,
            parameter_count=parameter_count,
            file_size=int(entry.size or 0),
            context_length=n_ctx,
            trained_context_length=trained,
            threads=0,
            gpu_layers=0,
            load_s=load_s,
            backend=self.name,
        )
        log.info("loaded %s (%s, %s) in %.2fs: ctx=%d", name, architecture, quantization, load_s, n_ctx)
        return self._info

    @staticmethod
    def _check_cancel(cancel: threading.Event | None, ref: ModelRef) -> None:
        if cancel is not None and cancel.is_set():
            raise LoadCancelledError(f"Loading {ref.label} was cancelled")

    def _find(self, wanted: str) -> ollama.ListResponse.Model:
        """The server's list entry for ``wanted``."""
        for entry in self._listed(ModelLoadError):
            if entry.model and _is_named(entry.model, wanted):
                return entry
        raise ModelLoadError(
            f'Ollama at {self.host} has no model "{wanted}": download it with "ollama pull {wanted}"'
        )

    def _describe(self, name: str) -> tuple[str, str, int, int]:
        """Architecture, quantization, parameter count and trained context of ``name``; blanks if unknown."""
        try:
            with self._translated(ModelLoadError, f"describe {name}"):
                shown = self._quick.show(name)
        except ModelLoadError as error:  # the details are a nicety: the load can go on without them
            log.warning("%s", error)
            return "", "", 0, 0
        info: Mapping[str, Any] = shown.modelinfo or {}
        details = shown.details
        architecture = str(info.get("general.architecture") or (details.family if details else "") or "")
        quantization = (details.quantization_level if details else "") or ""
        return (
            architecture,
            quantization,
            _count(info.get("general.parameter_count")),
            _count(info.get(f"{architecture}.context_length")),
        )

    def generate(
        self, request: GenerationRequest, on_token: TokenCallback | None, cancel: threading.Event
    ) -> GenerationResult:
        """Stream a reply to ``request.messages``; stops at the next chunk after ``cancel`` is set.

        ``request.ignore_eos`` has no Ollama equivalent and is ignored.

        Raises:
            GenerationError: no model is loaded, or the server refused or broke off the reply.
            ServerUnavailableError: the server does not answer.
        """
        info = self._info
        if info is None:
            raise GenerationError("No model is loaded: pick one in the model menu first")
        sampling = request.sampling
        options: dict[str, Any] = {
            "temperature": sampling.temperature,
            "top_k": sampling.top_k,
            "top_p": sampling.top_p,
            "min_p": sampling.min_p,
            "repeat_penalty": sampling.repeat_penalty,
            "num_predict": sampling.max_tokens,
            "num_ctx": info.context_length,  # another num_ctx than the load's would reload the model
        }
        if sampling.seed >= 0:  # a negative seed means "random", which is Ollama's default
            options["seed"] = sampling.seed
        grounded = grounded_messages(request.messages, request.passages)  # the server fits its context
        messages = [{"role": m.role, "content": m.content} for m in grounded]
        action = f"reply with {info.name}"
        started = time.perf_counter()
        pieces: list[str] = []
        first_at: float | None = None
        final: ollama.ChatResponse | None = None
        stop_reason: StopReason = "eos"
        with self._translated(GenerationError, action):
            stream = self._slow.chat(info.name, messages=messages, stream=True, options=options)
        try:
            while final is None:
                if cancel.is_set():
                    stop_reason = "cancelled"
                    break
                with self._translated(GenerationError, action):
                    chunk = next(stream, None)
                if chunk is None:
                    raise GenerationError(f"Ollama ended the reply of {info.name} before finishing it")
                text = chunk.message.content or ""
                if text:
                    if first_at is None:
                        first_at = time.perf_counter()
                    if on_token is not None:
                        on_token(TokenChunk(text, len(pieces)))
                    pieces.append(text)
                if chunk.done:
                    final = chunk
        finally:
            if isinstance(stream, Generator):  # closing it closes the HTTP response, so the server stops
                with contextlib.suppress(httpx.HTTPError, OSError):
                    stream.close()
        finished = time.perf_counter()
        first = first_at or finished
        completion = len(pieces)
        prompt_tokens = 0
        prompt_rate = 0.0
        decode_rate = (completion - 1) / (finished - first) if completion > 1 else 0.0
        if final is not None:  # the server's own counters are exact where the wall clock is not
            completion = final.eval_count if final.eval_count is not None else completion
            prompt_tokens = final.prompt_eval_count or 0
            if prompt_tokens and final.prompt_eval_duration:
                prompt_rate = prompt_tokens / (final.prompt_eval_duration / _NS_PER_S)
            if final.eval_count and final.eval_duration:
                decode_rate = final.eval_count / (final.eval_duration / _NS_PER_S)
            stop_reason = "length" if final.done_reason == "length" else "eos"
        stats = GenerationStats(
            prompt_tokens=prompt_tokens,
            cached_prompt_tokens=0,
            completion_tokens=completion,
            ttft_s=first - started,
            prompt_tokens_per_s=prompt_rate,
            tokens_per_s=decode_rate,
            total_s=finished - started,
            stop_reason=stop_reason,
            passages_used=len(request.passages or ()),
        )
        log.info(
            "Ollama generated %d tokens (%s): prompt %d, ttft %.3fs, %.1f tok/s",
            completion,
            stop_reason,
            prompt_tokens,
            stats.ttft_s,
            stats.tokens_per_s,
        )
        return GenerationResult("".join(pieces), stats)

    def unload(self) -> None:
        """Ask the server to free the loaded model; a server that does not answer is only logged."""
        info, self._info = self._info, None
        if info is not None:
            self._unload_named(info.name)

    def _unload_named(self, name: str) -> None:
        try:
            with self._translated(GenerationError, f"unload {name}"):
                self._quick.chat(name, messages=[], keep_alive=0)
        except ReflexiaError as error:
            log.warning("could not unload %s: %s", name, error)
        else:
            log.info("Ollama unloaded %s", name)

    def close(self) -> None:
        """Close the HTTP connections; the server keeps its models (see :meth:`unload`)."""
        self._quick.close()  # type: ignore[no-untyped-call]  # ollama leaves close() unannotated
        self._slow.close()  # type: ignore[no-untyped-call]
