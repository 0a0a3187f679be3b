"""The Ollama backend against dead, rude and stand-in servers.

Ollama cannot be installed on this machine (no binary, no model hub), so:

* the failure tests are real: a loopback port nothing listens on, a listener that
  accepts and hangs up at once, and one that accepts and never answers;
* the happy-path tests talk to ``FakeOllama``, a STAND-IN for the real server: a
  small ``http.server`` on 127.0.0.1 that speaks only the endpoints the backend
  uses (``/api/tags``, ``/api/show``, ``/api/chat`` with NDJSON streaming), in the
  shapes Ollama's API documentation gives. It checks our side of the protocol,
  not Ollama's behaviour.

Every server thread is stopped and joined before its test ends.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from reflexia.core.engine.backend import Backend
from reflexia.core.engine.conversation import ChatMessage
from reflexia.core.engine.ollama.backend import OllamaBackend
from reflexia.core.engine.values import GenerationRequest, ModelRef, SamplingParams, TokenChunk
from reflexia.core.errors import (
    GenerationError,
    LoadCancelledError,
    ModelLoadError,
    ServerUnavailableError,
)

TOKENS = ["Hello", ",", " world", "!"]
ASK = (ChatMessage("system", "Be brief."), ChatMessage("user", "Say hello."))
PROMPT_EVAL_COUNT = 12
PROMPT_EVAL_NS = 200_000_000  # 60 prompt tokens/s
EVAL_NS = 400_000_000  # 4 tokens in 0.4 s: 10 tokens/s


@dataclass
class FakeState:
    """What the stand-in serves, and what it was asked."""

    tokens: list[str] = field(default_factory=lambda: list(TOKENS))
    token_delay_s: float = 0.0
    counters: bool = True  # send Ollama's timing counters in the final chunk
    chat_error: str = ""  # answer /api/chat with a 404 carrying this error
    garbage: bool = False  # answer everything with text that is not Ollama's JSON
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    client_left: threading.Event = field(default_factory=threading.Event)


class _FakeServer(HTTPServer):
    state: FakeState

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can stall without a network.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]


class _Handler(BaseHTTPRequestHandler):
    server: _FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows stderr of failures
        pass

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        state = self.server.state
        state.requests.append((self.path, {}))
        if state.garbage:
            self._garbage()
        elif self.path == "/api/tags":
            self._json(200, {"models": [_listed("tiny:latest", 12_345), _listed("other:7b", 99)]})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        state = self.server.state
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        state.requests.append((self.path, body))
        if state.garbage:
            self._garbage()
        elif self.path == "/api/show":
            self._show(body["model"])
        elif self.path == "/api/chat":
            self._chat(body)
        else:
            self._json(404, {"error": "not found"})

    def _garbage(self) -> None:
        body = b"<html>hello</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _show(self, model: str) -> None:
        if model != "tiny:latest":
            self._json(404, {"error": f"model '{model}' not found"})
            return
        self._json(
            200,
            {
                "details": {"family": "llama", "parameter_size": "1.7M", "quantization_level": "Q4_K_M"},
                "model_info": {
                    "general.architecture": "llama",
                    "general.parameter_count": 1_700_000,
                    "llama.context_length": 2048,
                },
            },
        )

    def _chat(self, body: dict[str, Any]) -> None:
        state = self.server.state
        if state.chat_error:
            self._json(404, {"error": state.chat_error})
            return
        model = body["model"]
        if not body["messages"]:  # Ollama's documented preload / unload request
            reason = "unload" if body.get("keep_alive") == 0 else "load"
            self._json(200, _chunk(model, "", done=True, done_reason=reason))
            return
        limit = body.get("options", {}).get("num_predict", -1)
        tokens = state.tokens if limit < 0 else state.tokens[:limit]
        final = _chunk(
            model, "", done=True, done_reason="length" if len(tokens) < len(state.tokens) else "stop"
        )
        if state.counters:
            final |= {
                "prompt_eval_count": PROMPT_EVAL_COUNT,
                "prompt_eval_duration": PROMPT_EVAL_NS,
                "eval_count": len(tokens),
                "eval_duration": EVAL_NS,
            }
        # HTTP/1.0 without a length: the body is NDJSON lines until the connection closes.
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.end_headers()
        try:
            for token in tokens:
                if state.stop.is_set():
                    return
                self.wfile.write(json.dumps(_chunk(model, token)).encode() + b"\n")
                self.wfile.flush()
                time.sleep(state.token_delay_s)
            self.wfile.write(json.dumps(final).encode() + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            state.client_left.set()


def _listed(name: str, size: int) -> dict[str, Any]:
    return {"name": name, "model": name, "size": size, "digest": "0" * 64, "details": {"family": "llama"}}


def _chunk(model: str, text: str, *, done: bool = False, done_reason: str | None = None) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "model": model,
        "created_at": "2025-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": text},
        "done": done,
    }
    if done_reason is not None:
        chunk["done_reason"] = done_reason
    return chunk


@dataclass
class FakeOllama:
    """A running stand-in server."""

    host: str
    state: FakeState
    stop_serving: Callable[[], None]


@contextlib.contextmanager
def fake_ollama(state: FakeState | None = None) -> Iterator[FakeOllama]:
    server = _FakeServer(("127.0.0.1", 0), _Handler)
    server.state = state or FakeState()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-ollama")
    thread.start()
    stopped = False

    def stop_serving() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            server.state.stop.set()
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)

    try:
        yield FakeOllama(f"http://127.0.0.1:{server.server_address[1]}", server.state, stop_serving)
    finally:
        stop_serving()


@contextlib.contextmanager
def rude_listener(*, hold: bool) -> Iterator[str]:
    """A port that accepts connections and hangs up at once (or, with ``hold``, never answers)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.05)
    stop = threading.Event()
    held: list[socket.socket] = []

    def run() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            if hold:
                held.append(connection)
            else:
                connection.close()

    thread = threading.Thread(target=run, name="rude-listener")
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in held:
            connection.close()
        listener.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def make_backend() -> Iterator[Callable[..., OllamaBackend]]:
    made: list[OllamaBackend] = []

    def make(host: str, **kwargs: Any) -> OllamaBackend:
        made.append(OllamaBackend(host, **kwargs))
        return made[-1]

    yield make
    for backend in made:
        backend.close()


def _chats(state: FakeState) -> list[dict[str, Any]]:
    return [body for path, body in state.requests if path == "/api/chat"]


def test_is_a_backend(make_backend: Callable[..., OllamaBackend]) -> None:
    backend: Backend = make_backend("http://127.0.0.1:11434")
    assert backend.name == "ollama"
    assert not backend.capabilities.in_process
    assert not backend.capabilities.has_rungs
    assert not backend.capabilities.can_quantize
    assert backend.model is None


# --- A dead server: a loopback port nothing listens on (real) ---


def _assert_unavailable(call: Callable[[], object], host: str) -> ServerUnavailableError:
    started = time.monotonic()
    with pytest.raises(ServerUnavailableError) as caught:
        call()
    assert time.monotonic() - started < 2.0
    message = str(caught.value)
    assert host in message
    assert "\n" not in message
    return caught.value


def test_dead_server_list_models(make_backend: Callable[..., OllamaBackend]) -> None:
    host = f"http://127.0.0.1:{free_port()}"
    error = _assert_unavailable(make_backend(host).list_models, host)
    assert str(error) == (
        f'Ollama is not answering at {host}: start it with "ollama serve" or change OLLAMA_HOST'
    )


def test_dead_server_load(make_backend: Callable[..., OllamaBackend]) -> None:
    host = f"http://127.0.0.1:{free_port()}"
    backend = make_backend(host)
    _assert_unavailable(lambda: backend.load(ModelRef.server("ollama", "tiny"), 2048), host)
    assert backend.model is None


def test_server_gone_before_generate(make_backend: Callable[..., OllamaBackend]) -> None:
    with fake_ollama() as fake:
        backend = make_backend(fake.host)
        backend.load(ModelRef.server("ollama", "tiny"), 2048)
        fake.stop_serving()  # Ollama quit after the model was loaded: its port now refuses
        _assert_unavailable(
            lambda: backend.generate(GenerationRequest(ASK), None, threading.Event()), fake.host
        )


def test_unload_on_a_dead_server_only_warns(
    make_backend: Callable[..., OllamaBackend], caplog: pytest.LogCaptureFixture
) -> None:
    with fake_ollama() as fake:
        backend = make_backend(fake.host)
        backend.load(ModelRef.server("ollama", "tiny"), 2048)
        fake.stop_serving()
        backend.unload()
    assert backend.model is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "unload" in r.getMessage()]
    assert warnings and fake.host in warnings[0].getMessage()


# --- Rude servers: real sockets that misbehave ---


def test_server_that_hangs_up(make_backend: Callable[..., OllamaBackend]) -> None:
    with rude_listener(hold=False) as host:
        backend = make_backend(host)
        _assert_unavailable(backend.list_models, host)
        _assert_unavailable(lambda: backend.load(ModelRef.server("ollama", "tiny"), 2048), host)


def test_server_that_never_answers_times_out(make_backend: Callable[..., OllamaBackend]) -> None:
    with rude_listener(hold=True) as host:
        backend = make_backend(host, timeout_s=0.3)
        error = _assert_unavailable(backend.list_models, host)
    assert "stopped answering" in str(error)


def test_server_that_is_not_ollama(make_backend: Callable[..., OllamaBackend]) -> None:
    with fake_ollama(FakeState(garbage=True)) as fake:
        error = _assert_unavailable(make_backend(fake.host).list_models, fake.host)
    assert "does not answer like Ollama" in str(error)


# --- The happy path, against the stand-in server ---


def test_list_models(make_backend: Callable[..., OllamaBackend]) -> None:
    with fake_ollama() as fake:
        models = make_backend(fake.host).list_models()
    assert models == [ModelRef.server("ollama", "tiny:latest"), ModelRef.server("ollama", "other:7b")]


def test_load_preloads_and_describes(make_backend: Callable[..., OllamaBackend]) -> None:
    ref = ModelRef.server("ollama", "tiny")  # the server lists it as tiny:latest
    with fake_ollama() as fake:
        backend = make_backend(fake.host)
        info = backend.load(ref, 4096)
    assert backend.model == info
    assert info.ref == ref
    assert info.name == "tiny:latest"
    assert (info.architecture, info.quantization, info.parameter_count) == ("llama", "Q4_K_M", 1_700_000)
    assert info.trained_context_length == 2048
    assert info.context_length == 2048  # capped at the trained length, as Ollama does
    assert info.file_size == 12_345
    assert (info.threads, info.gpu_layers, info.backend) == (0, 0, "ollama")
    assert info.load_s > 0
    [preload] = _chats(fake.state)
    assert preload["model"] == "tiny:latest"
    assert preload["messages"] == []
    assert preload["options"] == {"num_ctx": 2048}


def test_load_of_a_missing_model_says_how_to_get_it(make_backend: Callable[..., OllamaBackend]) -> None:
    with fake_ollama() as fake:
        backend = make_backend(fake.host)
        with pytest.raises(ModelLoadError) as caught:
            backend.load(ModelRef.server("ollama", "nope"), 2048)
    assert type(caught.value) is ModelLoadError
    assert '"nope"' in str(caught.value)
    assert 'ollama pull nope"' in str(caught.value)
    assert not _chats(fake.state)


def test_load_refuses_a_file(make_backend: Callable[..., OllamaBackend]) -> None:
    with fake_ollama() as fake:
        backend = make_backend(fake.host)
        with pytest.raises(ModelLoadError, match=r"llama\.cpp"):
            backend.load(ModelRef.file("/models/tiny.gguf"), 2048)
    assert not fake.state.requests


def test_load_cancelled_before_it_starts(make_backend: Callable[..., OllamaBackend]) -> None:
    cancel = threading.Event()
    cancel.set()
    with fake_ollama() as fake:
        backend = make_backend(fake.host)
        with pytest.raises(LoadCancelledError):
            backend.load(ModelRef.server("ollama", "tiny"), 2048, cancel)
    assert backend.model is None
    assert not _chats(fake.state)


def test_load_refused_by_the_server(make_backend: Callable[..., OllamaBackend]) -> None:
    with fake_ollama(FakeState(chat_error="model requires more system memory (9 GiB)")) as fake:
        backend = make_backend(fake.host)
        with pytest.raises(ModelLoadError, match="requires more system memory"):
            backend.load(ModelRef.server("ollama", "tiny"), 2048)
    assert backend.model is None


def test_generate_streams_and_reports_the_servers_counters(
    make_backend: Callable[..., OllamaBackend],
) -> None:
    chunks: list[TokenChunk] = []
    sampling = SamplingParams(
        temperature=0.2, top_k=20, top_p=0.9, min_p=0.1, repeat_penalty=1.2, max_tokens=64
    )
    with fake_ollama() as fake:
        backend = make_backend(fake.host)
        backend.load(ModelRef.server("ollama", "tiny"), 2048)
        result = backend.generate(GenerationRequest(ASK, sampling), chunks.append, threading.Event())
    assert result.text == "Hello, world!"
    assert chunks == [TokenChunk(text, i) for i, text in enumerate(TOKENS)]
    stats = result.stats
    assert stats.stop_reason == "eos"
    assert (stats.prompt_tokens, stats.cached_prompt_tokens, stats.completion_tokens) == (12, 0, 4)
    assert stats.prompt_tokens_per_s == pytest.approx(60.0)
    assert stats.tokens_per_s == pytest.approx(10.0)
    assert 0 < stats.ttft_s <= stats.total_s
    request = _chats(fake.state)[-1]
    assert request["model"] == "tiny:latest"
    assert request["stream"] is True
    assert request["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello."},
    ]
    assert request["options"] == {
        "temperature": 0.2,
        "top_k": 20,
        "top_p": 0.9,
        "min_p": 0.1,
        "repeat_penalty": 1.2,
        "num_predict": 64,
        "num_ctx": 2048,  # the load's: another would make Ollama reload the model
    }  # seed -1 (random) is left out


def test_generate_sends_a_fixed_seed_and_reports_length(make_backend: Callable[..., OllamaBackend]) -> None:
    with fake_ollama() as fake:
        backend = make_backend(fake.host)
        backend.load(ModelRef.server("ollama", "tiny"), 2048)
        sampling = SamplingParams(seed=7, max_tokens=2)
        result = backend.generate(GenerationRequest(ASK, sampling), None, threading.Event())
    assert result.text == "Hello,"
    assert result.stats.stop_reason == "length"
    assert _chats(fake.state)[-1]["options"]["seed"] == 7


def test_generate_without_counters_times_by_the_clock(make_backend: Callable[..., OllamaBackend]) -> None:
    with fake_ollama(FakeState(counters=False, token_delay_s=0.02)) as fake:
        backend = make_backend(fake.host)
        backend.load(ModelRef.server("ollama", "tiny"), 2048)
        result = backend.generate(GenerationRequest(ASK), None, threading.Event())
    stats = result.stats
    assert (stats.prompt_tokens, stats.completion_tokens, stats.prompt_tokens_per_s) == (0, 4, 0.0)
    assert 0 < stats.tokens_per_s < 100  # 3 tokens after the first, 20 ms apart
    assert 0 < stats.ttft_s < stats.total_s


def test_cancel_stops_a_long_stream_early(make_backend: Callable[..., OllamaBackend]) -> None:
    state = FakeState(tokens=[f" t{i}" for i in range(2000)], token_delay_s=0.005)  # 10 s in full
    cancel = threading.Event()
    chunks: list[TokenChunk] = []

    def on_token(chunk: TokenChunk) -> None:
        chunks.append(chunk)
        if len(chunks) == 3:
            cancel.set()

    with fake_ollama(state) as fake:
        backend = make_backend(fake.host)
        backend.load(ModelRef.server("ollama", "tiny"), 2048)
        started = time.monotonic()
        result = backend.generate(GenerationRequest(ASK, SamplingParams(max_tokens=5000)), on_token, cancel)
        elapsed = time.monotonic() - started
        assert state.client_left.wait(2.0)  # the stream was closed, not read to its end
    assert elapsed < 2.0
    assert result.text == " t0 t1 t2"
    assert result.stats.stop_reason == "cancelled"
    assert result.stats.completion_tokens == 3


def test_generate_refused_by_the_server(make_backend: Callable[..., OllamaBackend]) -> None:
    with fake_ollama() as fake:
        backend = make_backend(fake.host)
        backend.load(ModelRef.server("ollama", "tiny"), 2048)
        fake.state.chat_error = "model 'tiny:latest' not found"  # deleted since it was loaded
        with pytest.raises(GenerationError, match="model 'tiny:latest' not found"):
            backend.generate(GenerationRequest(ASK), None, threading.Event())


def test_generate_needs_a_model(make_backend: Callable[..., OllamaBackend]) -> None:
    with pytest.raises(GenerationError, match="No model is loaded"):
        make_backend("http://127.0.0.1:11434").generate(GenerationRequest(ASK), None, threading.Event())


def test_unload_asks_the_server(make_backend: Callable[..., OllamaBackend]) -> None:
    with fake_ollama() as fake:
        backend = make_backend(fake.host)
        backend.load(ModelRef.server("ollama", "tiny"), 2048)
        backend.unload()
        backend.unload()  # nothing loaded: no request
    assert backend.model is None
    unloads = [body for body in _chats(fake.state) if body.get("keep_alive") == 0]
    assert [body["model"] for body in unloads] == ["tiny:latest"]


def test_loading_another_model_unloads_the_first(make_backend: Callable[..., OllamaBackend]) -> None:
    with fake_ollama() as fake:
        backend = make_backend(fake.host)
        backend.load(ModelRef.server("ollama", "tiny"), 2048)
        backend.load(ModelRef.server("ollama", "tiny:latest"), 1024)
    assert [(b["messages"], b.get("keep_alive")) for b in _chats(fake.state)] == [
        ([], None),
        ([], 0),
        ([], None),
    ]
    assert backend.model is not None and backend.model.context_length == 1024


def test_a_new_host_in_the_settings_is_used_from_the_next_request(
    make_backend: Callable[..., OllamaBackend],
) -> None:
    from reflexia.core.config.settings import default_settings

    backend = make_backend(f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with fake_ollama() as fake:
        settings = default_settings()
        settings = settings.model_copy(
            update={"ollama": settings.ollama.model_copy(update={"host": fake.host})}
        )
        backend.apply_settings(settings)
        assert backend.list_models()[0] == ModelRef.server("ollama", "tiny:latest")
