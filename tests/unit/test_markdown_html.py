"""Markdown rendering for Qt and the streaming splitter (no Qt needed)."""

from __future__ import annotations

import html
import re

import pytest

from reflexia.ui.markdown_html import (
    COPY_LINK,
    CodePart,
    HtmlPart,
    MarkdownStream,
    code_to_html,
    guess_language,
    markdown_to_html,
    render_blocks,
)

REPLY = (
    "# Plan\n\nFirst a paragraph with `code` and **bold**.\n\n"
    "```python\nprint('hi')\nx = 1\n```\n\n- one\n- two\n\n1. first\n2. second\n"
)


def _stream(text: str, step: int, max_tail: int = 1500) -> list[str]:
    stream = MarkdownStream(max_tail=max_tail)
    pieces = []
    for i in range(0, len(text), step):
        stream.feed(text[i : i + step])
        finished = stream.take_finished()
        if finished:
            pieces.append(finished)
    pieces.append(stream.tail)
    return pieces


def test_headings_lists_and_code_become_qt_html() -> None:
    html = markdown_to_html(REPLY)
    assert "Plan</h1>" in html and "<h1 " in html
    assert "<ul>" in html and "<ol>" in html
    assert "<pre " in html and "print" in html and "<span style=" in html  # highlighted
    assert "<strong>bold</strong>" in html


def test_raw_html_from_the_model_is_escaped() -> None:
    assert "<script>" not in markdown_to_html("<script>alert(1)</script>")


def test_streamed_blocks_render_like_the_whole_reply() -> None:
    for step in (1, 3, 7, 50):
        pieces = _stream(REPLY, step)
        assert "".join(pieces) == REPLY
        assert "".join(markdown_to_html(p) for p in pieces) == markdown_to_html(REPLY)


def test_blank_lines_inside_code_do_not_split_the_fence() -> None:
    text = "```\na\n\nb\n```\nafter\n"
    pieces = _stream(text, 2)
    assert pieces[0] == "```\na\n\nb\n```\n"


def test_a_long_tail_is_cut_and_code_fences_are_reopened() -> None:
    code = "```python\n" + "".join(f"line_{i} = {i}\n" for i in range(60)) + "```\n"
    stream = MarkdownStream(max_tail=200)
    finished = []
    for i in range(0, len(code), 5):
        stream.feed(code[i : i + 5])
        finished.append(stream.take_finished())
        assert len(stream.tail) <= 200 + 40  # the tail stays cheap to re-render
    blocks = [b for b in finished if b] + [stream.tail]
    assert len(blocks) > 3
    for block in blocks[:-1]:
        assert block.startswith("```python\n") and block.endswith("```\n")
    body = "".join(b.removeprefix("```python\n").removesuffix("```\n") for b in blocks if b.strip())
    assert body == "".join(f"line_{i} = {i}\n" for i in range(60))


def test_text_without_newlines_is_cut_at_spaces() -> None:
    text = "word " * 200
    pieces = _stream(text, 4, max_tail=100)
    assert "".join(pieces) == text
    assert max(len(p) for p in pieces) <= 110


def _shown(markup: str) -> str:
    """The text a rich-text label shows for ``markup``."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup))


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", "import os\n\n\ndef f(x):\n    return x * 2  # <double> & 'quoted'\n"),
        ("console", "$ python total.py sales.csv\n1234.5"),
        ("rust", 'fn main() {\n\tprintln!("{}", 1 < 2);\n}'),
        ("no-such-language", "plain <text> & more"),
        ("", "  leading spaces\ntrailing  "),
    ],
)
def test_highlighting_colours_tokens_and_keeps_exactly_the_code(language: str, code: str) -> None:
    light, dark = code_to_html(code, language, "light"), code_to_html(code, language, "dark")
    assert _shown(light) == _shown(dark) == code.removesuffix("\n")
    if language in ("python", "console", "rust"):
        assert '<span style="color: #' in light and light != dark  # a light and a dark style
    else:
        assert "<span" not in light


def test_streaming_code_is_plain() -> None:
    markup = markdown_to_html("```python\nimport os\nprint(os.sep)\n", streaming=True)
    assert "<span" not in markup and COPY_LINK not in markup
    assert "import os" in _shown(markup)


def test_top_level_code_blocks_are_handed_out_apart_with_their_language() -> None:
    text = (
        "Intro with `inline`.\n\n```py\nprint(1)\n```\n\n"
        "1. Step:\n\n   ```bash\n   ls -la\n   ```\n\n"
        "```\nimport json\njson.dumps({})\n```\n\nOutro.\n"
    )
    parts = render_blocks(text, "dark")
    assert [type(p) for p in parts] == [HtmlPart, CodePart, HtmlPart, CodePart, HtmlPart]
    assert parts[1] == CodePart("print(1)", "py")
    assert parts[3] == CodePart("import json\njson.dumps({})", "python")  # no fence language: guessed
    nested = parts[2]
    assert isinstance(nested, HtmlPart)
    assert nested.codes == ("ls -la",) and f'href="{COPY_LINK}0"' in nested.html
    assert nested.source.startswith("1. Step:") and "```bash" in nested.source
    assert markdown_to_html(nested.source, "dark") == nested.html  # what a theme change renders again


def test_languages_are_guessed_from_common_signatures() -> None:
    assert guess_language("import os\nprint(os.sep)") == "python"
    assert guess_language("const x = require('y');\nconsole.log(x);") == "javascript"
    assert guess_language("$ ls\nfile.txt") == "console"
    assert guess_language("pip install reflexia") == "bash"
    assert guess_language("#include <stdio.h>\nint main(void) { return 0; }") == "c"
    assert guess_language("just some words") == ""


def test_take_all_hands_out_the_rest_uncut() -> None:
    code = "```python\n" + "".join(f"line_{i} = {i}\n" for i in range(60)) + "```\n"
    stream = MarkdownStream(max_tail=100)
    stream.feed(code)
    assert stream.take_all() == code
    assert stream.take_all() == "" and stream.tail == ""
    stream = MarkdownStream(max_tail=100)
    stream.feed(code[:300])
    first = stream.take_finished()
    assert stream.continues_fence and first.endswith("```\n")
    rest = stream.take_all()
    assert rest.startswith("```python\n") and not stream.continues_fence
