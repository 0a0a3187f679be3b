"""Markdown rendering for Qt and the streaming splitter (no Qt needed)."""

from __future__ import annotations

from reflexia.ui.markdown_html import MarkdownStream, markdown_to_html

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
    assert 'bgcolor="#f1f3f7"' in html and "print('hi')" in html
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
