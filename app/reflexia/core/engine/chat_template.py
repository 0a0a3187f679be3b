"""Turning a conversation into prompt text with the model's own chat template.

GGUF files carry a Jinja template in ``tokenizer.chat_template``; we render it
in a sandbox. One that fails on our messages falls back to ChatML, which most
instruction-tuned GGUFs understand. Files without one are base (completion) models:
they get a plain transcript to continue, and their reply ends where they start
writing the user's next line (``TRANSCRIPT_STOPS``).

The prompt comes out in parts that say who wrote them: only the template's own text
may spell control tokens such as ``<|im_start|>``; message contents (and the document
passages inside them) are the user's and the model's text, tokenized as text, so a
message can never open a turn of its own.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NoReturn

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from reflexia.core.engine.conversation import ChatMessage

log = logging.getLogger(__name__)

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


# Stands in for message ``index``'s content while the template renders: no template text
# contains it, and trimming or quoting leaves it whole.
_CONTENT_MARK = "@@reflexia-content-{index}@@"
_CONTENT_MARKS = re.compile(r"@@reflexia-content-(\d+)@@")


@dataclass(frozen=True)
class PromptPart:
    """A stretch of the prompt, and whether the chat template wrote it.

    Attributes:
        text: The characters.
        from_template: True for the template's own text, which may spell control tokens;
            False for a message's content, which is always plain text to the model.
    """

    text: str
    from_template: bool


#: For base models. Gemma 3 270M answers "The capital of France is Paris." in this transcript
#: (then writes a "User:" line of its own), where ChatML or its own turn markers get it to
#: repeat the question or ramble to the length limit.
TRANSCRIPT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}{{ 'Assistant:' + message['content'] }}"
    "{% else %}{{ message['role'] | capitalize + ': ' + message['content'] }}{% endif %}"
    "{{ '\n\n' }}"
    "{% endfor %}"
    "{{ 'Assistant:' }}"
)
#: Where a base model's reply ends: the transcript's next user line (the reply is cut before it).
TRANSCRIPT_STOPS = ("\nUser:", "\nSystem:")


def _raise_exception(message: str) -> NoReturn:
    raise jinja2.TemplateError(message)


@lru_cache(maxsize=8)
def _compile(source: str) -> jinja2.Template:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise_exception
    return env.from_string(source)


def render_prompt(
    messages: Sequence[ChatMessage],
    template: str | None,
    *,
    bos_token: str = "",
    eos_token: str = "",
) -> str:
    """The prompt text of ``messages`` plus the assistant's generation prompt, as one string."""
    parts = render_prompt_parts(messages, template, bos_token=bos_token, eos_token=eos_token)
    return "".join(part.text for part in parts)


def render_prompt_parts(
    messages: Sequence[ChatMessage],
    template: str | None,
    *,
    bos_token: str = "",
    eos_token: str = "",
) -> tuple[PromptPart, ...]:
    """Render ``messages`` plus the assistant's generation prompt, in template and content parts.

    The template renders with a mark in place of each message's content, and the contents go in
    where the marks are: so they are in the prompt verbatim (a template's ``trim`` does not
    reach them), and nothing in them can pass for the template's text.

    Args:
        messages: The conversation so far, oldest first.
        template: The model's Jinja chat template, or None for ChatML.
        bos_token: Text of the model's BOS token (templates may emit it).
        eos_token: Text of the model's EOS token (templates may emit it).
    """
    payload: list[dict[str, Any]] = [
        {"role": m.role, "content": _CONTENT_MARK.format(index=i)} for i, m in enumerate(messages)
    ]
    if template:
        try:
            rendered = _compile(template).render(
                messages=payload, add_generation_prompt=True, bos_token=bos_token, eos_token=eos_token
            )
            parts = _fill_in(rendered, messages)
            if parts is not None:
                return parts
            log.warning("chat template changed the messages' contents; falling back to ChatML")
        except jinja2.TemplateError as exc:
            log.warning("chat template failed (%s); falling back to ChatML", exc)
    parts = _fill_in(_compile(CHATML_TEMPLATE).render(messages=payload, add_generation_prompt=True), messages)
    assert parts is not None  # ChatML writes every content as it is
    return parts


def _fill_in(rendered: str, messages: Sequence[ChatMessage]) -> tuple[PromptPart, ...] | None:
    """Split the rendered template at the content marks and put the contents in their place.

    None when a mark was cut or altered (its remains would be in the template's text).
    """
    pieces = _CONTENT_MARKS.split(rendered)  # template text, index, template text, index, ...
    parts: list[PromptPart] = []
    for position, piece in enumerate(pieces):
        if position % 2 == 0:
            if "reflexia-content" in piece.lower():
                return None
            _append(parts, PromptPart(piece, from_template=True))
        else:
            _append(parts, PromptPart(messages[int(piece)].content, from_template=False))
    return tuple(parts)


def _append(parts: list[PromptPart], part: PromptPart) -> None:
    """Add ``part``, joined to the previous one when both come from the same side."""
    if not part.text:
        return
    if parts and parts[-1].from_template == part.from_template:
        parts[-1] = PromptPart(parts[-1].text + part.text, part.from_template)
    else:
        parts.append(part)


def parts_after(parts: Sequence[PromptPart], offset: int) -> tuple[PromptPart, ...]:
    """The parts of the prompt from character ``offset`` on (what the KV cache does not hold yet)."""
    rest: list[PromptPart] = []
    start = 0
    for part in parts:
        end = start + len(part.text)
        if end > offset:
            rest.append(
                part if start >= offset else PromptPart(part.text[offset - start :], part.from_template)
            )
        start = end
    return tuple(rest)
