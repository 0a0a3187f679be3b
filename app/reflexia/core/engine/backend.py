"""The backend interface: what every engine (in-process llama.cpp, a model server) offers."""

from __future__ import annotations

import threading
from typing import Protocol

from reflexia.core.config.settings import Settings
from reflexia.core.engine.values import (
    BackendCapabilities,
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    ModelRef,
    TokenCallback,
)


class Backend(Protocol):
    """A model runner. Not thread-safe: one thread owns it."""

    name: str
    capabilities: BackendCapabilities

    @property
    def model(self) -> ModelInfo | None:
        """The loaded model, if any."""

    def list_models(self) -> list[ModelRef]:
        """The models this backend can load now.

        Raises:
            ServerUnavailableError: the backend's server does not answer.
        """

    def load(
        self,
        ref: ModelRef,
        context_length: int,
        cancel: threading.Event | None = None,
        *,
        gpu_layers: int | None = None,
    ) -> ModelInfo:
        """Load a model, replacing the current one; gives up soon after ``cancel`` is set.

        ``gpu_layers`` overrides the configured offload for this load (fewer layers than Metal's
        working set would hold); backends that run models elsewhere ignore it.

        Raises:
            ReflexiaError: a specific, user-presentable reason (bad file, no server, cancelled).
        """

    def generate(
        self, request: GenerationRequest, on_token: TokenCallback | None, cancel: threading.Event
    ) -> GenerationResult:
        """Produce a reply, calling ``on_token`` per token; stops within one token of ``cancel``."""

    def unload(self) -> None:
        """Free the model (and every conversation's cache)."""

    def apply_settings(self, settings: Settings) -> None:
        """Take changed settings (folders, server, load options); a loaded model keeps its own."""
