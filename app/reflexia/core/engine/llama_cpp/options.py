"""How the llama.cpp backend loads models: options only this backend knows about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from reflexia.core.config.settings import Settings

#: Flash attention is switched on explicitly (not left on llama.cpp's "auto"): the memory
#: estimate's compute-buffer formula assumes it, so the two must not drift apart.
FLASH_ATTENTION: Final = True
#: Recent conversations whose KV cache is kept (besides the one in the context).
SAVED_CONVERSATIONS: Final = 4
#: Their saved states together may take at most this share of one full KV cache; the
#: memory estimate counts the same share (``reflexia.core.memory.estimate``).
SAVED_STATE_SHARE: Final = 0.5


@dataclass(frozen=True)
class LlamaOptions:
    """Load options of the in-process llama.cpp backend.

    Attributes:
        threads: CPU threads; 0 means the physical cores.
        gpu_layers: Layers offloaded to a GPU backend; -1 means all of them.
        batch_size: Prompt tokens per decode call (n_batch = n_ubatch).
    """

    threads: int = 0
    gpu_layers: int = -1
    batch_size: int = 512

    @classmethod
    def from_settings(cls, settings: Settings) -> LlamaOptions:
        """The configured options."""
        m = settings.model
        return cls(threads=m.threads, gpu_layers=m.gpu_layers, batch_size=m.batch_size)
