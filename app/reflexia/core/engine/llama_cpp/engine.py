"""The llama.cpp backend, on llama-cpp-python's low-level API.

The high-level ``Llama.create_completion`` costs about 3 ms per token above a
bare decode loop (measured in shared/ENVIRONMENT.md), so this module runs its
own loop: one ``llama_decode`` per token, llama.cpp's C-side sampler chain,
and incremental UTF-8 detokenization. Its KV cache belongs to a conversation
(``kv_cache.py``): the next turn only evaluates what is new, and switching
between conversations restores a saved state.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import llama_cpp

from reflexia.core.config.logging_setup import route_llama_log
from reflexia.core.config.settings import Settings
from reflexia.core.engine.chat_template import (
    TRANSCRIPT_STOPS,
    TRANSCRIPT_TEMPLATE,
    PromptPart,
    parts_after,
    render_prompt_parts,
)
from reflexia.core.engine.context_budget import FittedConversation, reply_reserve
from reflexia.core.engine.conversation import ChatMessage
from reflexia.core.engine.grounding import fit_grounded
from reflexia.core.engine.llama_cpp.kv_cache import ConversationCache
from reflexia.core.engine.llama_cpp.options import (
    FLASH_ATTENTION,
    SAVED_CONVERSATIONS,
    SAVED_STATE_SHARE,
    LlamaOptions,
)
from reflexia.core.engine.llama_cpp.vocabulary import Vocabulary
from reflexia.core.engine.reply_end import ReplyEnd
from reflexia.core.engine.values import (
    BackendCapabilities,
    GenerationRequest,
    GenerationResult,
    GenerationStats,
    ModelInfo,
    ModelRef,
    SamplingParams,
    StopReason,
    TokenCallback,
    TokenChunk,
)
from reflexia.core.errors import GenerationError, LoadCancelledError, ModelLoadError
from reflexia.core.hardware import physical_cores
from reflexia.core.models.files import find_model_files
from reflexia.core.models.gguf_file import read_gguf
from reflexia.core.models.naming import display_name

log = logging.getLogger(__name__)

_backend_ready = False
_RANDOM_SEED = 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: llama.cpp picks one


def _init_backend() -> None:
    global _backend_ready
    if not _backend_ready:
        route_llama_log()
        llama_cpp.llama_backend_init()
        _backend_ready = True


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest shared prefix of two token lists."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


class LlamaCppBackend:
    """Runs GGUF models in-process. Not thread-safe: one thread owns it."""

    name = "llama.cpp"
    capabilities = BackendCapabilities(in_process=True, has_rungs=True, can_quantize=True)

    def __init__(self, options: LlamaOptions | None = None, models_dirs: tuple[Path, ...] = ()) -> None:
        self.options = options or LlamaOptions()
        self._models_dirs = models_dirs
        self._model: Any = None
        self._ctx: Any = None
        self._vocab: Any = None
        self._vocabulary: Vocabulary | None = None
        self._info: ModelInfo | None = None
        self._template: str | None = None
        self._stops: tuple[str, ...] = ()  # text that ends a base model's reply
        self._n_ctx = 0
        self._n_batch = 512
        self.cache = ConversationCache(SAVED_CONVERSATIONS)
        self._piece = ctypes.create_string_buffer(256)

    @property
    def model(self) -> ModelInfo | None:
        """The loaded model, if any."""
        return self._info

    def apply_settings(self, settings: Settings) -> None:
        """New load options and models folder, used from the next load and listing on."""
        self.options = LlamaOptions.from_settings(settings)
        self._models_dirs = (settings.models_dir(),)

    def list_models(self) -> list[ModelRef]:
        """GGUF files in the models folders this backend was given."""
        return [ModelRef.file(p) for folder in self._models_dirs for p in find_model_files(folder)]

    def load(
        self,
        ref: ModelRef,
        context_length: int,
        cancel: threading.Event | None = None,
        *,
        gpu_layers: int | None = None,
    ) -> ModelInfo:
        """Validate and load a GGUF file, replacing any loaded model.

        ``gpu_layers`` (when not None) replaces the configured offload: the fit check chose fewer
        layers because the GPU's working set cannot hold them all.

        Raises:
            ModelFileError: the file is missing, not a GGUF, truncated or corrupt.
            ModelLoadError: llama.cpp refused the file or the context.
            LoadCancelledError: ``cancel`` was set before the weights were in.
        """
        if ref.backend != self.name or ref.path is None:
            raise ModelLoadError(f"{ref} is not a GGUF file for llama.cpp")
        path = ref.path
        gguf = read_gguf(path)  # our own checks first: llama.cpp's errors are generic
        stop = cancel or threading.Event()
        if stop.is_set():
            raise LoadCancelledError(f"loading {path.name} was cancelled")
        self.unload()
        _init_backend()
        started = time.perf_counter()
        gpu_layers = self.options.gpu_layers if gpu_layers is None else gpu_layers
        if gpu_layers < 0:
            gpu_layers = 999 if llama_cpp.llama_supports_gpu_offload() else 0
        model_params = llama_cpp.llama_model_default_params()
        model_params.n_gpu_layers = gpu_layers
        # llama.cpp asks this between tensors; False aborts the load (a newer load, or Quit).
        progress = llama_cpp.llama_progress_callback(lambda _fraction, _data: not stop.is_set())
        model_params.progress_callback = progress
        model = llama_cpp.llama_model_load_from_file(str(path).encode(), model_params)
        if not model:
            if stop.is_set():
                raise LoadCancelledError(f"loading {path.name} was cancelled")
            raise ModelLoadError(
                f"llama.cpp could not load {path} (architecture '{gguf.architecture}'); "
                "the log file has its reason"
            )
        trained = llama_cpp.llama_model_n_ctx_train(model)
        n_ctx = min(context_length, trained) if trained > 0 else context_length
        threads = self.options.threads or physical_cores()
        ctx_params = llama_cpp.llama_context_default_params()
        ctx_params.n_ctx = n_ctx
        ctx_params.n_batch = min(self.options.batch_size, n_ctx)
        ctx_params.n_ubatch = min(self.options.batch_size, n_ctx)
        ctx_params.n_threads = threads
        ctx_params.n_threads_batch = threads
        ctx_params.flash_attn_type = (
            llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
            if FLASH_ATTENTION
            else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
        )
        ctx = llama_cpp.llama_init_from_model(model, ctx_params)
        if not ctx:
            llama_cpp.llama_model_free(model)
            raise ModelLoadError(
                f"llama.cpp could not create a {n_ctx}-token context for {path.name}: "
                "not enough memory? Try a shorter context or a smaller quantization"
            )
        self._model, self._ctx = model, ctx
        self._vocab = llama_cpp.llama_model_get_vocab(model)
        self._vocabulary = Vocabulary(self._vocab)
        # No chat template: a base (completion) model, which continues a transcript instead.
        self._template = gguf.chat_template or TRANSCRIPT_TEMPLATE
        self._stops = () if gguf.chat_template else TRANSCRIPT_STOPS
        self._n_ctx = llama_cpp.llama_n_ctx(ctx)
        self._n_batch = ctx_params.n_batch
        self.cache.reset(int(self._kv_cache_bytes() * SAVED_STATE_SHARE))
        load_s = time.perf_counter() - started
        self._info = ModelInfo(
            ref=ModelRef.file(path),
            name=display_name(gguf, Path(path)),
            architecture=gguf.architecture,
            quantization=gguf.quantization,
            parameter_count=gguf.parameter_count,
            file_size=gguf.file_size,
            context_length=self._n_ctx,
            trained_context_length=trained,
            threads=threads,
            gpu_layers=gpu_layers,
            load_s=load_s,
            backend=self.name,
        )
        log.info(
            "loaded %s (%s, %s) in %.2fs: ctx=%d threads=%d gpu_layers=%d",
            Path(path).name,
            gguf.architecture,
            gguf.quantization,
            load_s,
            self._n_ctx,
            threads,
            gpu_layers,
        )
        return self._info

    def _kv_cache_bytes(self) -> int:
        """Bytes of a full f16 KV cache of the loaded context."""
        model = self._model
        heads = max(1, llama_cpp.llama_model_n_head(model))
        head_dim = llama_cpp.llama_model_n_embd(model) // heads
        per_token = (
            llama_cpp.llama_model_n_layer(model) * 2 * llama_cpp.llama_model_n_head_kv(model) * head_dim
        )
        return int(2 * per_token * self._n_ctx)

    def unload(self) -> None:
        """Free the context and the model, and every conversation's cache with them."""
        if self._ctx:
            llama_cpp.llama_free(self._ctx)
        if self._model:
            llama_cpp.llama_model_free(self._model)
            log.info("unloaded %s", self._info.ref.label if self._info else "model")
        self._model = self._ctx = self._vocab = self._vocabulary = None
        self._info = None
        self.cache.reset()

    def forget_conversation(self, conversation_id: str) -> None:
        """Drop the cache kept for a conversation that was deleted or started over."""
        self.cache.forget(conversation_id)

    def tokenize(self, text: str, *, add_bos: bool = True, special: bool = False) -> list[int]:
        """Tokens of ``text``, as plain text unless ``special`` lets it spell control tokens."""
        return self._loaded_vocabulary().tokenize(text, add_bos=add_bos, special=special)

    def _loaded_vocabulary(self) -> Vocabulary:
        self._require_loaded()
        assert self._vocabulary is not None
        return self._vocabulary

    def _render(self, messages: Sequence[ChatMessage]) -> tuple[PromptPart, ...]:
        vocabulary = self._loaded_vocabulary()
        return render_prompt_parts(
            messages, self._template, bos_token=vocabulary.bos_text, eos_token=vocabulary.eos_text
        )

    def _fit(self, request: GenerationRequest) -> FittedConversation:
        """The messages that fit the context with room for the reply (grounded in the passages, if any)."""
        budget = self._n_ctx - reply_reserve(self._n_ctx, request.sampling.max_tokens)
        vocabulary = self._loaded_vocabulary()

        def count(messages: Sequence[ChatMessage]) -> int:
            parts = self._render(messages)
            characters = sum(len(part.text) for part in parts)
            if sum(len(part.text.encode("utf-8")) for part in parts) + 1 <= budget:  # a token spans a byte
                return characters
            return len(vocabulary.prompt_tokens(parts)) + 1

        fitted = fit_grounded(
            request.messages, request.passages, count, budget, previous_cut=self.cache.active.left_out
        )
        self.cache.active.left_out = fitted.left_out
        return fitted

    def _prompt_tokens(self, messages: Sequence[ChatMessage]) -> tuple[list[int], list[tuple[str, int]]]:
        """Tokens of the rendered prompt, and the segments that spell them."""
        vocabulary = self._loaded_vocabulary()
        parts = self._render(messages)
        prompt = "".join(part.text for part in parts)
        active = self.cache.active
        # Reuse the exact tokens of every cached segment the new prompt starts with, instead of
        # re-tokenizing the history: generated tokens need not survive a detokenize/tokenize
        # round trip, and one mismatch early in the history would discard the rest of the cache.
        text_at = tokens_at = 0
        kept: list[tuple[str, int]] = []
        for text, count in active.segments:
            if not prompt.startswith(text, text_at):
                break
            kept.append((text, count))
            text_at += len(text)
            tokens_at += count
        if kept:
            new = vocabulary.prompt_tokens(parts_after(parts, text_at))
            return active.tokens[:tokens_at] + new, [*kept, (prompt[text_at:], len(new))]
        # Templates that write the BOS text themselves must not get a second BOS.
        bos_text = vocabulary.bos_text
        template_wrote_bos = bool(
            bos_text and parts and parts[0].from_template and parts[0].text.startswith(bos_text)
        )
        tokens = vocabulary.prompt_tokens(parts, add_bos=vocabulary.adds_bos and not template_wrote_bos)
        return tokens, [(prompt, len(tokens))]

    def _make_sampler(self, params: SamplingParams) -> Any:
        chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
        add = llama_cpp.llama_sampler_chain_add
        n_vocab = llama_cpp.llama_vocab_n_tokens(self._vocab)
        if params.repeat_penalty != 1.0:
            add(chain, llama_cpp.llama_sampler_init_penalties(n_vocab, 64, params.repeat_penalty, 0.0, 0.0))
        if params.temperature <= 0.0:
            add(chain, llama_cpp.llama_sampler_init_greedy())
            return chain
        if params.top_k > 0:
            add(chain, llama_cpp.llama_sampler_init_top_k(params.top_k))
        add(chain, llama_cpp.llama_sampler_init_top_p(params.top_p, 1))
        add(chain, llama_cpp.llama_sampler_init_min_p(params.min_p, 1))
        add(chain, llama_cpp.llama_sampler_init_temp(params.temperature))
        add(chain, llama_cpp.llama_sampler_init_dist(_RANDOM_SEED if params.seed < 0 else params.seed))
        return chain

    def _evaluate_prompt(self, tokens: list[int], cancel: threading.Event) -> int:
        """Bring the KV cache to ``tokens``, reusing the shared prefix; returns tokens reused."""
        active = self.cache.active
        reuse = common_prefix_length(active.tokens, tokens)
        if reuse == len(tokens):
            reuse -= 1  # the last prompt token must be evaluated to get logits
        memory = llama_cpp.llama_get_memory(self._ctx)
        if not llama_cpp.llama_memory_seq_rm(memory, 0, reuse, -1):
            llama_cpp.llama_memory_clear(memory, True)
            reuse = 0
        active.tokens = tokens[:reuse]
        active.segments = []
        for start in range(reuse, len(tokens), self._n_batch):
            if cancel.is_set():
                break
            chunk = tokens[start : start + self._n_batch]
            array = (llama_cpp.llama_token * len(chunk))(*chunk)
            if llama_cpp.llama_decode(self._ctx, llama_cpp.llama_batch_get_one(array, len(chunk))) != 0:
                self.clear_cache()
                raise GenerationError("llama.cpp failed to evaluate the prompt (out of memory?)")
            active.tokens.extend(chunk)
        return reuse

    def clear_cache(self) -> None:
        """Empty the active conversation's KV cache (after a failed decode its contents are unknown)."""
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self._ctx), True)
        self.cache.forget(self.cache.active.conversation_id)

    def generate(
        self, request: GenerationRequest, on_token: TokenCallback | None, cancel: threading.Event
    ) -> GenerationResult:
        """Stream a reply to ``request.messages``; stops within one token of ``cancel``.

        Raises:
            GenerationError: no model, the prompt does not fit, or llama.cpp failed.
        """
        self._require_loaded()
        started = time.perf_counter()
        self.cache.switch_to(self._ctx, request.conversation_id)
        fitted = self._fit(request)
        tokens, segments = self._prompt_tokens(fitted.messages)
        if len(tokens) >= self._n_ctx:
            raise GenerationError(
                f"The conversation is {len(tokens)} tokens long, more than the {self._n_ctx}-token "
                "context: start a new chat or load the model with a longer context"
            )
        reused = self._evaluate_prompt(tokens, cancel)
        prompt_done = time.perf_counter()
        text_in_cache = 0  # generated pieces whose tokens are in the KV cache, on a UTF-8 boundary
        pieces: list[str] = []
        first_token_at: float | None = None
        stop_reason: StopReason = "length"
        ctx, vocab, piece, cached = self._ctx, self._vocab, self._piece, self.cache.active.tokens
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        one = (llama_cpp.llama_token * 1)()
        sampler = self._make_sampler(request.sampling)
        ending = ReplyEnd(self._stops) if self._stops and not request.ignore_eos else None
        # Locals for the per-token loop: it runs hundreds of times a second.
        sample, is_eog, to_piece = (
            llama_cpp.llama_sampler_sample,
            llama_cpp.llama_vocab_is_eog,
            llama_cpp.llama_token_to_piece,
        )
        decode, batch_of = llama_cpp.llama_decode, llama_cpp.llama_batch_get_one
        max_tokens, stop_at_eog = request.sampling.max_tokens, not request.ignore_eos
        last_index, context_limit = max_tokens - 1, self._n_ctx - 1
        try:
            for index in range(max_tokens):
                if cancel.is_set():
                    stop_reason = "cancelled"
                    break
                token = sample(sampler, ctx, -1)
                if stop_at_eog and is_eog(vocab, token):
                    stop_reason = "eos"
                    break
                size = to_piece(vocab, token, piece, len(piece), 0, False)
                if size < 0:  # piece longer than the buffer: grow it once and retry
                    piece = self._piece = ctypes.create_string_buffer(-size)
                    size = to_piece(vocab, token, piece, len(piece), 0, False)
                text = decoder.decode(piece.raw[:size])
                if first_token_at is None:
                    first_token_at = time.perf_counter()
                pieces.append(text)
                if ending is not None:
                    text = ending.add(text)
                if on_token is not None:
                    on_token(TokenChunk(text, index))
                if ending is not None and ending.ended:
                    stop_reason = "eos"  # the model began the user's next line
                    break
                if len(cached) >= context_limit:
                    stop_reason = "context_full"
                    break
                if index == last_index:
                    break  # the last token needs no decode
                one[0] = token
                if decode(ctx, batch_of(one, 1)) != 0:
                    self.clear_cache()
                    raise GenerationError("llama.cpp failed while generating (out of memory?)")
                cached.append(token)
                if not decoder.getstate()[0]:
                    text_in_cache = len(pieces)
        finally:
            llama_cpp.llama_sampler_free(sampler)
        flushed = decoder.decode(b"", final=True)  # a reply cut inside a UTF-8 sequence
        pieces.append(flushed)
        if ending is not None:
            flushed = ending.finish() if ending.ended else ending.add(flushed) + ending.finish()
        if flushed and on_token is not None:
            on_token(TokenChunk(flushed, len(pieces) - 2))
        if cached[: len(tokens)] == tokens:
            if ending is not None and ending.ended:  # the reply's text is not all its tokens spell
                self.cache.active.segments = list(segments)
            elif len(cached) - len(tokens) == text_in_cache:
                reply_segment = ("".join(pieces[:text_in_cache]), text_in_cache)
                self.cache.active.segments = [*segments, reply_segment]
        finished = time.perf_counter()
        completion = len(pieces) - 1
        evaluated = len(tokens) - reused
        first = first_token_at or finished
        stats = GenerationStats(
            prompt_tokens=len(tokens),
            cached_prompt_tokens=reused,
            completion_tokens=completion,
            ttft_s=first - started,
            prompt_tokens_per_s=evaluated / max(prompt_done - started, 1e-9),
            tokens_per_s=(completion - 1) / (finished - first) if completion > 1 else 0.0,
            total_s=finished - started,
            stop_reason=stop_reason,
            left_out_messages=fitted.left_out,
            passages_used=fitted.passages_used,
        )
        log.info(
            "generated %d tokens (%s): prompt %d (+%d cached), ttft %.3fs, %.1f tok/s",
            completion,
            stop_reason,
            evaluated,
            reused,
            stats.ttft_s,
            stats.tokens_per_s,
        )
        return GenerationResult(ending.text if ending is not None else "".join(pieces), stats)

    def _require_loaded(self) -> None:
        if not self._ctx:
            raise GenerationError("No model is loaded: pick one in the model menu first")

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit llama_cpp may be gone already
            self.unload()
