"""The loaded model's vocabulary, as prompts need it.

Only the chat template's own text may produce control tokens. A prompt is cut where the
template spells a special token (``<|im_start|>``, ``<start_of_turn>``); each stretch between
two of them, template text and message contents alike, is tokenized as plain text. That is how
llama.cpp itself splits a prompt when it parses special tokens, so an ordinary prompt gets
exactly the tokens it always had, and a message or passage that spells ``<|im_start|>`` gets
those characters, never the token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import llama_cpp

from reflexia.core.engine.chat_template import PromptPart

# Tokens llama.cpp matches by their text when it parses special tokens.
_SPECIAL_ATTRS = (
    llama_cpp.LLAMA_TOKEN_ATTR_CONTROL
    | llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
    | llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN
)

Piece = str | int  # plain text, or a special token the template spelled


class Vocabulary:
    """Text to tokens and back for one loaded model. Used by the thread that owns the model."""

    def __init__(self, vocab: Any) -> None:
        self._vocab = vocab
        # Template text repeats every turn ("<|im_end|>\n<|im_start|>user\n"): split it once.
        self._template_pieces: dict[str, tuple[Piece, ...]] = {}

    def tokenize(self, text: str, *, add_bos: bool = False, special: bool = False) -> list[int]:
        """Tokens of ``text``; control tokens come only from their text with ``special``."""
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buffer = (llama_cpp.llama_token * capacity)()
        count = llama_cpp.llama_tokenize(self._vocab, data, len(data), buffer, capacity, add_bos, special)
        if count < 0:  # buffer too small: llama.cpp says how large it must be
            capacity = -count
            buffer = (llama_cpp.llama_token * capacity)()
            count = llama_cpp.llama_tokenize(self._vocab, data, len(data), buffer, capacity, add_bos, special)
        return list(buffer[:count])

    def token_text(self, token: int) -> str:
        """The text a token stands for ("" for no token)."""
        if token < 0:
            return ""
        raw = llama_cpp.llama_vocab_get_text(self._vocab, token)
        return raw.decode("utf-8", errors="replace") if raw else ""

    @property
    def bos_text(self) -> str:
        """Text of the BOS token (templates may write it)."""
        return self.token_text(llama_cpp.llama_vocab_bos(self._vocab))

    @property
    def eos_text(self) -> str:
        """Text of the EOS token (templates may write it)."""
        return self.token_text(llama_cpp.llama_vocab_eos(self._vocab))

    @property
    def adds_bos(self) -> bool:
        """Whether prompts for this model start with a BOS token."""
        return bool(llama_cpp.llama_vocab_get_add_bos(self._vocab))

    def has_control_token(self, text: str) -> bool:
        """Whether ``text`` is one control token of this model (a chat template's marker)."""
        tokens = self.tokenize(text, special=True)
        return len(tokens) == 1 and bool(llama_cpp.llama_vocab_is_control(self._vocab, tokens[0]))

    def prompt_tokens(self, parts: Sequence[PromptPart], *, add_bos: bool = False) -> list[int]:
        """Tokens of a rendered prompt, with control tokens only where the template spelled them."""
        pieces: list[Piece] = []
        text: list[str] = []
        for part in parts:
            if not part.from_template:
                text.append(part.text)
                continue
            for piece in self._pieces_of_template(part.text):
                if isinstance(piece, str):
                    text.append(piece)
                else:
                    pieces += ["".join(text), piece]
                    text = []
        pieces.append("".join(text))
        tokens = [llama_cpp.llama_vocab_bos(self._vocab)] if add_bos else []
        for piece in pieces:
            if isinstance(piece, int):
                tokens.append(piece)
            elif piece:
                tokens += self.tokenize(piece)
        return tokens

    def _pieces_of_template(self, text: str) -> tuple[Piece, ...]:
        """Template text cut at the special tokens llama.cpp finds in it."""
        known = self._template_pieces.get(text)
        if known is not None:
            return known
        pieces: list[Piece] = []
        at = 0
        for token in self.tokenize(text, special=True):
            if not llama_cpp.llama_vocab_get_attr(self._vocab, token) & _SPECIAL_ATTRS:
                continue
            spelled = self.token_text(token)
            found = text.find(spelled, at) if spelled else -1
            if found < 0:  # not where its text is (llama.cpp added it): leave it to plain text
                continue
            pieces += [text[at:found], token]
            at = found + len(spelled)
        pieces.append(text[at:])
        result = tuple(p for p in pieces if p != "")
        if len(self._template_pieces) < 256:
            self._template_pieces[text] = result
        return result
