"""Generate llama-architecture GGUF models with random weights, and quantize them.

These are the project's test, demo and benchmark models: real files that
llama.cpp loads and generates from (nonsense, quickly). Everything is
deterministic for a seed, so the same call writes a byte-identical file. The
tokenizer is a small SentencePiece-style vocabulary built from an embedded
word list, with ChatML control tokens and a ChatML chat template.

The command line is ``reflexia make-model`` (see :mod:`reflexia.cli`).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import gguf
import numpy as np
import numpy.typing as npt

from reflexia.core.atomic_file import atomic_output

__all__ = [
    "CHATML_TEMPLATE",
    "MODEL_SIZES",
    "ModelShape",
    "build_vocabulary",
    "make_model",
]


@dataclass(frozen=True)
class ModelShape:
    """Hyper-parameters of a generated llama model.

    ``vocab_size`` is not in the original brief: the vocabulary size is part of
    the parameter count and is what pads the medium model to benchmark size.
    """

    embedding_length: int
    block_count: int
    head_count: int
    head_count_kv: int
    feed_forward_length: int
    context_length: int
    vocab_size: int

    @property
    def head_dim(self) -> int:
        """Size of one attention head."""
        return self.embedding_length // self.head_count

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        """Return every tensor's numpy shape (rows, columns) in file order."""
        e, f, v = self.embedding_length, self.feed_forward_length, self.vocab_size
        kv = self.head_dim * self.head_count_kv
        t = gguf.MODEL_TENSOR
        shapes: dict[str, tuple[int, ...]] = {_name(t.TOKEN_EMBD): (v, e)}
        for i in range(self.block_count):
            for kind, shape in (
                (t.ATTN_NORM, (e,)), (t.ATTN_Q, (e, e)), (t.ATTN_K, (kv, e)),
                (t.ATTN_V, (kv, e)), (t.ATTN_OUT, (e, e)), (t.FFN_NORM, (e,)),
                (t.FFN_GATE, (f, e)), (t.FFN_UP, (f, e)), (t.FFN_DOWN, (e, f)),
            ):  # fmt: skip
                shapes[_name(kind, i)] = shape
        shapes[_name(t.OUTPUT_NORM)] = (e,)
        shapes[_name(t.OUTPUT)] = (v, e)
        return shapes

    def parameter_count(self) -> int:
        """Return the number of weights in a model of this shape."""
        return sum(int(np.prod(shape)) for shape in self.tensor_shapes().values())


# Row sizes (embedding and feed-forward lengths) are multiples of 256 so that
# every k-quant applies. medium's vocabulary pads the f16 file to about 210 MB.
MODEL_SIZES: Final[dict[str, ModelShape]] = {
    "tiny": ModelShape(256, 2, 4, 2, 512, 2048, vocab_size=1024),
    "small": ModelShape(512, 4, 8, 4, 1536, 4096, vocab_size=2048),
    "medium": ModelShape(1024, 8, 16, 4, 2816, 4096, vocab_size=8192),
}


CHATML_TEMPLATE: Final = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

_T = gguf.TokenType
_SPECIAL_TOKENS: Final = (
    ("<unk>", _T.UNKNOWN),
    ("<s>", _T.CONTROL),
    ("</s>", _T.CONTROL),
    ("<|im_start|>", _T.CONTROL),
    ("<|im_end|>", _T.CONTROL),
)
UNK_ID, BOS_ID, EOS_ID, IM_START_ID, IM_END_ID = range(len(_SPECIAL_TOKENS))
_SPACE: Final = "\u2581"  # SentencePiece's word-boundary marker
_WORDS: Final = (
    "the", "be", "to", "of", "and", "a", "in", "that", "have", "I", "it", "for", "not", "on", "with", "he",
    "as", "you", "do", "at", "this", "but", "his", "by", "from", "they", "we", "say", "her", "she", "or",
    "an", "will", "my", "one", "all", "would", "there", "their", "what", "so", "up", "out", "if", "about",
    "who", "get", "which", "go", "me", "when", "make", "can", "like", "time", "no", "just", "him", "know",
    "take", "people", "into", "year", "your", "good", "some", "could", "them", "see", "other", "than",
    "then", "now", "look", "only", "come", "its", "over", "think", "also", "back", "after", "use", "two",
    "how", "our", "work", "first", "well", "way", "even", "new", "want", "because", "any", "these", "give",
    "day", "most", "us", "is", "are", "was", "were", "been", "has", "had", "said", "did", "made", "find",
    "here", "thing", "many", "world", "life", "hand", "part", "child", "eye", "woman", "man", "place",
    "week", "case", "point", "number", "group", "problem", "fact", "very", "long", "little", "own", "old",
    "right", "big", "high", "different", "small", "large", "next", "early", "young", "important", "few",
    "public", "bad", "same", "able", "last", "great", "help", "show", "hear", "play", "run", "move", "live",
    "believe", "hold", "bring", "happen", "write", "provide", "sit", "stand", "lose", "pay", "meet",
    "include", "continue", "set", "learn", "change", "lead", "understand", "watch", "follow", "stop",
    "create", "speak", "read", "allow", "add", "spend", "grow", "open", "walk", "win", "offer", "remember",
    "love", "consider", "appear", "buy", "wait", "serve", "die", "send", "expect", "build", "stay", "fall",
    "cut", "reach", "kill", "remain", "question", "answer", "model", "word", "text", "file", "language",
    "computer", "local", "memory", "machine", "reason", "simple", "should", "may", "must", "where", "why",
    "yes", "hello", "thanks", "please", "sorry", "today", "tomorrow", "story", "water", "light", "night",
    "house", "home", "school", "friend", "family", "money", "music", "game", "book", "city", "country",
    "state", "system", "program", "data", "code", "test", "start", "end", "line", "page"
)  # fmt: skip
_SUBWORDS: Final = (
    "ing", "ed", "er", "es", "ly", "tion", "ment", "ness", "able", "ful", "less", "est", "ity", "ous",
    "ive", "al", "ic", "ism", "ist", "s", "y", "re", "un", "in", "dis", "pre", "con", "com", "pro", "ex"
)  # fmt: skip
_PUNCTUATION: Final = ".,!?;:'\"()-/"


def build_vocabulary(size: int) -> tuple[list[str], list[float], list[int]]:
    """Build a deterministic SentencePiece-style vocabulary.

    Layout: ``<unk>``, ``<s>``, ``</s>``, ``<|im_start|>``, ``<|im_end|>``; the
    256 byte tokens ``<0x00>``..``<0xFF>``; single characters and word pieces
    (every prefix of every piece is present, so SentencePiece merges can build
    whole words); then generated syllable pieces until ``size`` is reached.

    Args:
        size: Number of tokens, at least 262.

    Returns:
        Token texts, scores (longer pieces score higher, so they win merges)
        and token types.
    """
    first = len(_SPECIAL_TOKENS) + 256
    if size <= first:
        raise ValueError(f"a vocabulary needs more than {first} tokens, not {size}")
    tokens = [text for text, _ in _SPECIAL_TOKENS] + [f"<0x{b:02X}>" for b in range(256)]
    types = [int(kind) for _, kind in _SPECIAL_TOKENS] + [int(_T.BYTE)] * 256
    pieces: list[str] = []
    for piece in itertools.chain(_word_pieces(), _syllable_pieces()):
        if len(pieces) == size - first:
            break
        pieces.append(piece)
    tokens += pieces
    types += [int(_T.NORMAL)] * len(pieces)
    scores = [0.0] * first + [float(len(piece)) for piece in pieces]
    return tokens, scores, types


def _word_pieces() -> list[str]:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    pieces = set(_SPACE + alphabet + _PUNCTUATION)
    for word in itertools.chain((_SPACE + w for w in _WORDS), _SUBWORDS):
        pieces.update(word[:end] for end in range(2, len(word) + 1))
    return sorted(pieces, key=lambda p: (len(p), p))  # prefixes before their extensions


def _syllable_pieces() -> Iterator[str]:
    syllables = [c + v for c in "bdfghklmnprstvwz" for v in "aeiou"]
    taken = set(_word_pieces())
    for count in itertools.count(2):
        for combo in itertools.product(syllables, repeat=count):
            piece = _SPACE + "".join(combo)
            if piece not in taken:
                yield piece


def make_model(
    out: str | os.PathLike[str], size: str = "tiny", seed: int = 0, *, name: str | None = None
) -> Path:
    """Write an f16 llama GGUF with random weights.

    Args:
        out: Destination path; replaced atomically.
        size: A key of :data:`MODEL_SIZES`.
        seed: Seed of the weights; the same seed gives a byte-identical file.
        name: ``general.name`` (default ``reflexia-SIZE``): tests give it hostile text.

    Returns:
        The path written.

    Raises:
        ValueError: ``size`` is not a known model size.
    """
    if size not in MODEL_SIZES:
        raise ValueError(f"unknown model size {size!r} (choose from {', '.join(MODEL_SIZES)})")
    shape = MODEL_SIZES[size]
    path = Path(out)
    rng = np.random.default_rng(seed)
    with atomic_output(path) as tmp:
        writer = gguf.GGUFWriter(tmp, "llama")
        try:
            _add_metadata(writer, shape, name if name is not None else f"reflexia-{size}", seed)
            for name, tensor_shape in shape.tensor_shapes().items():
                weights = _weights(rng, tensor_shape)
                if name == "output.weight":
                    # Zero logits for the control tokens (EOS, EOT, ...): random weights would
                    # otherwise end replies at random, and tests and benchmarks need lengths
                    # they can predict. Replies still stop at max_tokens or on Stop.
                    weights[: IM_END_ID + 1] = 0
                writer.add_tensor(name, weights)
            writer.write_header_to_file()
            writer.write_kv_data_to_file()
            writer.write_tensors_to_file()
        finally:
            writer.close()
    return path


def _add_metadata(writer: gguf.GGUFWriter, shape: ModelShape, name: str, seed: int) -> None:
    writer.add_name(name)
    writer.add_description(f"Random weights (seed {seed}) for tests and benchmarks")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_context_length(shape.context_length)
    writer.add_embedding_length(shape.embedding_length)
    writer.add_block_count(shape.block_count)
    writer.add_feed_forward_length(shape.feed_forward_length)
    writer.add_head_count(shape.head_count)
    writer.add_head_count_kv(shape.head_count_kv)
    writer.add_rope_dimension_count(shape.head_dim)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(shape.vocab_size)
    tokens, scores, types = build_vocabulary(shape.vocab_size)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_unk_token_id(UNK_ID)
    writer.add_bos_token_id(BOS_ID)
    writer.add_eos_token_id(EOS_ID)
    writer.add_eot_token_id(IM_END_ID)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHATML_TEMPLATE)


def _weights(rng: np.random.Generator, shape: tuple[int, ...]) -> npt.NDArray[np.generic]:
    """Norm vectors are ones in f32 (as converters store them); matrices are N(0, 0.02) in f16."""
    if len(shape) == 1:
        return np.ones(shape, dtype=np.float32)
    values = rng.standard_normal(shape, dtype=np.float32)
    values *= 0.02
    return values.astype(np.float16)


def _name(kind: gguf.MODEL_TENSOR, block: int | None = None) -> str:
    base = gguf.TENSOR_NAMES[kind]
    return (base.format(bid=block) if block is not None else base) + ".weight"
