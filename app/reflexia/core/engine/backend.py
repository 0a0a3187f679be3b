"""The backend interface and the values that cross thread boundaries."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from reflexia.core.config.settings import Settings
from reflexia.core.engine.conversation import ChatMessage

StopReason = Literal["eos", "length", "cancelled", "context_full"]


@dataclass(frozen=True)
class SamplingParams:
    """How the next token is chosen."""

    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    max_tokens: int = 1024
    seed: int = -1

    @classmethod
    def from_settings(cls, settings: Settings) -> SamplingParams:
        """The configured sampling parameters."""
        s = settings.sampling
        return cls(s.temperature, s.top_k, s.top_p, s.min_p, s.repeat_penalty, s.max_tokens, s.seed)


@dataclass(frozen=True)
class LoadParams:
    """How a model is loaded."""

    context_length: int = 4096
    threads: int = 0  # 0: physical cores
    gpu_layers: int = -1  # -1: all layers where a GPU backend exists
    batch_size: int = 512

    @classmethod
    def from_settings(cls, settings: Settings) -> LoadParams:
        """The configured load parameters."""
        m = settings.model
        return cls(m.context_length, m.threads, m.gpu_layers, m.batch_size)


@dataclass(frozen=True)
class GenerationRequest:
    """One reply to produce for a conversation."""

    messages: tuple[ChatMessage, ...]
    sampling: SamplingParams = SamplingParams()
    ignore_eos: bool = False  # benchmarks: always produce max_tokens


@dataclass(frozen=True)
class TokenChunk:
    """Text of one generated token (may be empty for partial UTF-8 or control tokens)."""

    text: str
    index: int


@dataclass(frozen=True)
class GenerationStats:
    """Measured facts about one reply."""

    prompt_tokens: int
    cached_prompt_tokens: int  # reused from the KV cache, not evaluated again
    completion_tokens: int
    ttft_s: float
    prompt_tokens_per_s: float
    tokens_per_s: float  # decode rate after the first token
    total_s: float
    stop_reason: StopReason


@dataclass(frozen=True)
class GenerationResult:
    """A finished (or cancelled) reply."""

    text: str
    stats: GenerationStats


@dataclass(frozen=True)
class ModelInfo:
    """A loaded model as the UI and CLI describe it."""

    path: Path
    name: str
    architecture: str
    quantization: str
    parameter_count: int
    file_size: int
    context_length: int  # in use
    trained_context_length: int
    threads: int
    gpu_layers: int
    load_s: float
    backend: str


TokenCallback = Callable[[TokenChunk], None]


class Backend(Protocol):
    """A local model runner. Not thread-safe: one thread owns it."""

    @property
    def model(self) -> ModelInfo | None:
        """The loaded model, if any."""

    def load(self, path: Path, params: LoadParams) -> ModelInfo:
        """Load a model, replacing the current one."""

    def generate(
        self, request: GenerationRequest, on_token: TokenCallback | None, cancel: threading.Event
    ) -> GenerationResult:
        """Produce a reply, calling ``on_token`` per token; stops within one token of ``cancel``."""

    def unload(self) -> None:
        """Free the model and its context."""
