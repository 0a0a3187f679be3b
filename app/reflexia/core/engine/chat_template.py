"""Turning a conversation into prompt text with the model's own chat template.

GGUF files carry a Jinja template in ``tokenizer.chat_template``; we render it
in a sandbox. Files without one, or with one that fails on our messages, fall
back to ChatML, which most instruction-tuned GGUFs understand.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
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
    """Render ``messages`` plus the assistant's generation prompt.

    Args:
        messages: The conversation so far, oldest first.
        template: The model's Jinja chat template, or None for ChatML.
        bos_token: Text of the model's BOS token (templates may emit it).
        eos_token: Text of the model's EOS token (templates may emit it).
    """
    payload: list[dict[str, Any]] = [{"role": m.role, "content": m.content} for m in messages]
    if template:
        try:
            return _compile(template).render(
                messages=payload, add_generation_prompt=True, bos_token=bos_token, eos_token=eos_token
            )
        except jinja2.TemplateError as exc:
            log.warning("chat template failed (%s); falling back to ChatML", exc)
    return _compile(CHATML_TEMPLATE).render(messages=payload, add_generation_prompt=True)
