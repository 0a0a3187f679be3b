"""Values that cross thread boundaries: model references, requests, tokens, results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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


BackendName = Literal["llama.cpp", "ollama"]


@dataclass(frozen=True)
class ModelRef:
    """A model as a backend knows it: a local GGUF file, or a name on a server.

    Attributes:
        backend: Which backend runs it.
        path: The GGUF file (in-process backends).
        name: The model's name on the server (``llama3.2:3b``); empty for files.
    """

    backend: BackendName
    path: Path | None = None
    name: str = ""

    @classmethod
    def file(cls, path: str | Path) -> ModelRef:
        """A GGUF file run in-process by llama.cpp."""
        return cls("llama.cpp", Path(path))

    @classmethod
    def server(cls, backend: BackendName, name: str) -> ModelRef:
        """A model named on a server, e.g. ``ModelRef.server("ollama", "llama3.2")``."""
        return cls(backend, None, name)

    @property
    def label(self) -> str:
        """What a log line or a status message calls it: the file name, or ``ollama:name``."""
        return self.path.name if self.path is not None else f"{self.backend}:{self.name}"

    def __str__(self) -> str:
        return str(self.path) if self.path is not None else f"{self.backend}:{self.name}"


@dataclass(frozen=True)
class BackendCapabilities:
    """What a backend can do, so services and widgets need not ask which backend it is."""

    in_process: bool  # runs inside the app (its memory is the app's, the governor watches it)
    has_rungs: bool  # its models come as files at several quantizations
    can_quantize: bool  # it can make another rung of a model on this machine


@dataclass(frozen=True)
class Passage:
    """A passage of the user's documents, retrieved for the newest message."""

    source: str  # where it comes from, as the model reads it: "manual.pdf, page 3"
    text: str


@dataclass(frozen=True)
class GenerationRequest:
    """One reply to produce for a conversation."""

    messages: tuple[ChatMessage, ...]
    sampling: SamplingParams = SamplingParams()
    conversation_id: str = ""  # whose KV cache this is; "" for one-off requests
    ignore_eos: bool = False  # benchmarks: always produce max_tokens
    # Documents: None when not searched; () when searched and nothing relevant was found.
    passages: tuple[Passage, ...] | None = None
    role: str = ""  # the expert role the reply is made with (it goes with the reply it makes)


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
    left_out_messages: int = 0  # oldest turns left out so the conversation fits the context
    passages_used: int = 0  # the first retrieved passages that fitted beside the conversation


@dataclass(frozen=True)
class Provenance:
    """What made a reply: the model and rung really loaded, the role, the conversation.

    Set by the inference worker from the model it ran, so a listener never has to ask a service
    what is loaded now (a load or a governor switch may have been queued behind the reply).
    """

    conversation_id: str = ""
    role: str = ""
    model: ModelRef | None = None
    model_name: str = ""
    rung: str = ""
    context_length: int = 0


@dataclass(frozen=True)
class GenerationResult:
    """A finished (or cancelled) reply, and what made it."""

    text: str
    stats: GenerationStats
    from_cache: bool = False  # answered from the response cache, not generated again
    made_by: Provenance = Provenance()


@dataclass(frozen=True)
class ModelInfo:
    """A loaded model as the UI and CLI describe it."""

    ref: ModelRef
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

    @property
    def path(self) -> Path | None:
        """The GGUF file, for in-process models; None for a model on a server."""
        return self.ref.path


TokenCallback = Callable[[TokenChunk], None]
