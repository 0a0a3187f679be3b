"""Rendering conversations with the model's template, and the ChatML fallback."""

from __future__ import annotations

from reflexia.core.engine.chat_template import CHATML_TEMPLATE, render_prompt
from reflexia.core.engine.conversation import ChatMessage

MESSAGES = (ChatMessage("system", "Be kind."), ChatMessage("user", "Hi!"))


def test_chatml_fallback_when_the_model_has_no_template() -> None:
    assert render_prompt(MESSAGES, None) == (
        "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n"
    )


def test_the_model_template_is_used_with_its_special_tokens() -> None:
    template = (
        "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}{{ eos_token }}{% endfor %}"
    )
    prompt = render_prompt(MESSAGES, template, bos_token="<s>", eos_token="</s>")
    assert prompt == "<s>[system]Be kind.</s>[user]Hi!</s>"


def test_a_template_that_rejects_the_conversation_falls_back_to_chatml() -> None:
    strict = "{{ raise_exception('System role not supported') }}"
    assert render_prompt(MESSAGES, strict) == render_prompt(MESSAGES, CHATML_TEMPLATE)


def test_templates_cannot_reach_python_internals() -> None:
    sneaky = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    assert "im_start" in render_prompt(MESSAGES, sneaky)
