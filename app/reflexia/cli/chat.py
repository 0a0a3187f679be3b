"""`reflexia chat`: one reply to --prompt, or a conversation read from standard input.

Without ``--prompt`` each line of standard input is the user's next turn; each
reply streams to standard output (or prints as one JSON object with --json). At a
terminal a banner and a prompt before each turn go to standard error.
``/load REF`` switches the model and keeps the conversation, ``/new`` starts
over, and the end of input exits with status 0 — a multi-turn conversation for
scripts, as ``ollama run`` offers. Notices go to standard error.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from reflexia.core.config import paths
from reflexia.core.config.settings import Role, Settings, load_settings
from reflexia.core.engine.backend import Backend
from reflexia.core.engine.conversation import Conversation
from reflexia.core.engine.values import (
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    ModelRef,
    SamplingParams,
    TokenChunk,
)
from reflexia.core.errors import ReflexiaError
from reflexia.core.history.replies import reply_stats, reply_status
from reflexia.core.history.store import HistoryStore, default_history_path
from reflexia.core.roles.library import RoleLibrary, sampling_for


class ChatCommandError(ReflexiaError):
    """A bad option of `reflexia chat`."""


def _sampling(args: argparse.Namespace, settings: Settings, role: Role) -> SamplingParams:
    overrides: dict[str, Any] = {}
    if args.max_tokens is not None:
        if args.max_tokens < 1:
            raise ChatCommandError("chat: --max-tokens must be at least 1")
        overrides["max_tokens"] = args.max_tokens
    if args.temperature is not None:
        if not 0.0 <= args.temperature <= 5.0:
            raise ChatCommandError("chat: --temperature must be between 0 and 5")
        overrides["temperature"] = args.temperature
    if args.seed is not None:
        overrides["seed"] = args.seed
    return replace(sampling_for(role, SamplingParams.from_settings(settings)), **overrides)


class Recorder:
    """Stores the terminal conversation in the history the window shows (``--save``).

    The user's message is written before the reply is generated, so a killed
    process loses at most the reply in progress.
    """

    def __init__(self, store: HistoryStore | None, role: str) -> None:
        self._store = store
        self._role = role
        self._started: set[str] = set()
        self._reply: int | None = None

    @property
    def saving(self) -> bool:
        """True with ``--save``."""
        return self._store is not None

    def before_reply(self, conversation_id: str, text: str, info: ModelInfo) -> None:
        """Store the user's message and a pending reply."""
        if self._store is None:
            return
        if conversation_id not in self._started:
            self._store.create_conversation(expert_role=self._role, conversation_id=conversation_id)
            self._started.add(conversation_id)
        self._store.add_message(conversation_id, "user", text, expert_role=self._role)
        self._reply = self._store.add_message(
            conversation_id,
            "assistant",
            "",
            expert_role=self._role,
            model_ref=str(info.ref),
            rung=info.quantization,
            status="pending",
        )

    def after_reply(self, result: GenerationResult, info: ModelInfo) -> None:
        """Store the finished reply."""
        if self._store is None or self._reply is None:
            return
        stats = reply_stats(result, info.name)
        self._store.update_message(self._reply, content=result.text, status=reply_status(result), stats=stats)
        self._reply = None

    def close(self) -> None:
        """Close the store."""
        if self._store is not None:
            self._store.close()


class TerminalEngine:
    """The CLI's in-process client of one backend at a time (a server's, or llama.cpp)."""

    def __init__(self, settings: Settings, *, load_anyway: bool) -> None:
        self._settings = settings
        self._load_anyway = load_anyway
        self._backend: Backend | None = None
        self.info: ModelInfo | None = None

    def load(self, ref: ModelRef) -> ModelInfo:
        """Load ``ref`` (fitted to memory for a file); the previous model stays if this fails."""
        from reflexia.cli.library import fitting_context

        if ref.backend == "ollama":
            from reflexia.core.engine.ollama.backend import OllamaBackend

            backend: Backend = OllamaBackend(self._settings.ollama.host)
            context = self._settings.model.context_length
        else:
            from reflexia.core.engine.llama_cpp.engine import LlamaCppBackend
            from reflexia.core.engine.llama_cpp.options import LlamaOptions

            assert ref.path is not None
            context = fitting_context(ref.path, self._settings, load_anyway=self._load_anyway)
            if isinstance(self._backend, LlamaCppBackend):
                backend = self._backend  # it replaces its model only once the new one checks out
            else:
                backend = LlamaCppBackend(LlamaOptions.from_settings(self._settings))
        self.info = backend.load(ref, context)
        if self._backend is not None and self._backend is not backend:
            self._backend.unload()
        self._backend = backend
        return self.info

    def generate(self, request: GenerationRequest, stream: bool) -> GenerationResult:
        """One reply, streamed to standard output unless ``stream`` is False."""
        assert self._backend is not None

        def write(chunk: TokenChunk) -> None:
            sys.stdout.write(chunk.text)
            sys.stdout.flush()

        return self._backend.generate(request, write if stream else None, threading.Event())

    def close(self) -> None:
        """Free the model."""
        if self._backend is not None:
            self._backend.unload()


def _reply_json(result: GenerationResult, info: ModelInfo, role: str = "") -> dict[str, object]:
    stats = result.stats
    return {
        "text": result.text,
        "model": info.name,
        "path": str(info.ref),
        "quantization": info.quantization,
        "prompt_tokens": stats.prompt_tokens,
        "cached_prompt_tokens": stats.cached_prompt_tokens,
        "completion_tokens": stats.completion_tokens,
        "ttft_s": round(stats.ttft_s, 4),
        "tokens_per_s": round(stats.tokens_per_s, 2),
        "prompt_tokens_per_s": round(stats.prompt_tokens_per_s, 2),
        "load_s": round(info.load_s, 4),
        "context_length": info.context_length,
        "stop_reason": stats.stop_reason,
        "left_out_messages": stats.left_out_messages,
    } | ({"role": role} if role else {})


def _roles(settings: Settings) -> RoleLibrary:
    library = RoleLibrary(settings.roles, paths.config_dir())
    if library.problem is not None:
        print(f"reflexia: {library.problem}", file=sys.stderr)  # the shipped roles still work
    return library


def _role(args: argparse.Namespace, settings: Settings) -> Role:
    library = _roles(settings)
    name = args.role or settings.default_role
    role = library.find(name)
    if role is None:
        choices = ", ".join(r.name for r in library.roles())
        raise ChatCommandError(f"chat: no role called {name!r} (choose from {choices})")
    return role


def cmd_roles(args: argparse.Namespace) -> int:
    """`reflexia roles [--json]`."""
    settings = load_settings().settings
    library = _roles(settings)
    if args.json:
        print(
            json.dumps(
                {
                    "default": settings.default_role,
                    "roles": [
                        r.model_dump() | {"shipped": library.is_shipped(r.name)} for r in library.roles()
                    ],
                }
            )
        )
        return 0
    for role in library.roles():
        details = [f"temperature {role.temperature}"] if role.temperature is not None else []
        details += ["documents"] if role.use_documents else []
        details += [f"lowest rung {role.min_rung}"] if role.min_rung else []
        mark = "*" if role.name == settings.default_role else " "
        kind = "shipped" if library.is_shipped(role.name) else "yours"
        print(f"{mark} {role.name:<24} {kind:<8} {', '.join(details)}")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    """`reflexia chat --model REF [--prompt TEXT] [--role NAME] ...`."""
    from reflexia.cli.library import auto_quant_model, resolve_model

    if args.prompt is not None and not args.prompt.strip():  # a model asked nothing still talks, at length
        raise ChatCommandError("chat: --prompt is empty; give the text to send, or leave it out to chat")
    settings = load_settings().settings
    role = _role(args, settings)
    sampling = _sampling(args, settings, role)
    ref = resolve_model(args.model, settings)
    decision = None
    if args.auto_quant and ref.path is not None:
        path, decision = auto_quant_model(ref.path, settings)
        ref = ModelRef.file(path)
    engine = TerminalEngine(settings, load_anyway=args.load_anyway)
    engine.load(ref)
    conversation = Conversation(system_prompt=role.system_prompt)
    recorder = Recorder(HistoryStore(default_history_path()) if args.save else None, role.name)
    try:
        if args.prompt is not None:
            conversation_id = uuid.uuid4().hex
            conversation.add_user(args.prompt)
            assert engine.info is not None
            recorder.before_reply(conversation_id, args.prompt, engine.info)
            request = GenerationRequest(conversation.messages(), sampling, conversation_id)
            result = engine.generate(request, not args.json)
            recorder.after_reply(result, engine.info)
            extra: dict[str, object] = {"role": role.name}
            if args.save:
                extra["conversation_id"] = conversation_id
            if decision is not None:
                extra["auto_quant"] = decision.to_json_dict()
            print(json.dumps(_reply_json(result, engine.info) | extra) if args.json else "")
            return 0
        return _converse(
            engine, conversation, sampling, settings, recorder, as_json=args.json, role=role.name
        )
    finally:
        engine.close()
        recorder.close()


#: Shown before each turn typed at a terminal (on standard error: standard output holds replies).
TURN_PROMPT = "> "


def _banner(info: ModelInfo) -> str:
    """One line for a terminal user, who would otherwise face a blank screen."""
    end = "Ctrl-Z then Enter" if sys.platform == "win32" else "Ctrl-D"
    return (
        f"reflexia: chatting with {info.name} ({info.quantization}); "
        f"/load MODEL switches the model, /new starts over, {end} quits"
    )


def _turns(at_terminal: bool) -> Iterator[str]:
    """The user's lines; at a terminal each is asked for with a prompt, piped input is read as is."""
    if not at_terminal:
        for line in sys.stdin:
            yield line.rstrip("\r\n")
        return
    while True:
        sys.stderr.write(TURN_PROMPT)
        sys.stderr.flush()
        line = sys.stdin.readline()
        if not line:
            sys.stderr.write("\n")  # the shell's prompt starts on a line of its own
            return
        yield line.rstrip("\r\n")


def _converse(
    engine: TerminalEngine,
    conversation: Conversation,
    sampling: SamplingParams,
    settings: Settings,
    recorder: Recorder,
    *,
    as_json: bool,
    role: str,
) -> int:
    from reflexia.cli.library import resolve_model

    conversation_id = uuid.uuid4().hex
    at_terminal = sys.stdin.isatty()
    if at_terminal:
        assert engine.info is not None
        print(_banner(engine.info), file=sys.stderr, flush=True)
    for text in _turns(at_terminal):
        if not text.strip():
            continue
        command, _, argument = text.strip().partition(" ")
        if command == "/new":
            conversation.clear()
            conversation_id = uuid.uuid4().hex
            print("reflexia: new conversation", file=sys.stderr)
            continue
        if command == "/load":
            try:
                info = engine.load(resolve_model(argument.strip(), settings))
            except ReflexiaError as exc:  # the session goes on with the model it had
                print(f"reflexia: {exc}", file=sys.stderr)
                if as_json:
                    print(json.dumps({"error": str(exc)}), flush=True)
                continue
            print(
                f"reflexia: loaded {info.name} ({info.quantization}); the conversation goes on",
                file=sys.stderr,
            )
            continue
        conversation.add_user(text)
        assert engine.info is not None
        recorder.before_reply(conversation_id, text, engine.info)
        request = GenerationRequest(conversation.messages(), sampling, conversation_id)
        result = engine.generate(request, not as_json)
        recorder.after_reply(result, engine.info)
        conversation.add_assistant(result.text)
        if as_json:
            saved = {"conversation_id": conversation_id} if recorder.saving else {}
            print(json.dumps(_reply_json(result, engine.info, role) | saved), flush=True)
        else:
            print(flush=True)
    return 0
