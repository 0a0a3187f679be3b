"""Loaders: the text of real files with its location, and a clear error for every bad file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reflexia.core.rag.errors import DocumentError
from reflexia.core.rag.loaders import DEFAULT_LIMITS, LoaderLimits, find_documents, load_document
from reflexia.core.units import MB
from tests.unit.test_rag_support import write_docx, write_pdf


def problem_of(path: Path, limits: LoaderLimits = DEFAULT_LIMITS) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        load_document(path, limits)
    assert str(caught.value).startswith(f"{path.absolute()}: ")
    return caught.value


def test_plain_text_is_one_section_without_location(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("First paragraph.\n\nSecond paragraph.\n", encoding="utf-8")
    document = load_document(path)
    assert document.kind == "text"
    assert [(s.text, s.page, s.heading) for s in document.sections] == [
        ("First paragraph.\n\nSecond paragraph.", None, None)
    ]
    assert document.title == "notes"


def test_markdown_sections_carry_their_heading_trail(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text(
        "---\ntitle: front matter is metadata\n---\n# Guide\n\nIntro.\n\n## Install\n\nRun it.\n\n"
        "```sh\n# a comment, not a heading\nmake\n```\n\n### Linux\n\napt install\n\n"
        "Setext\n======\n\nLast.\n",
        encoding="utf-8",
    )
    sections = load_document(path).sections
    assert [(s.heading, s.text) for s in sections] == [
        ("Guide", "Intro."),
        ("Guide › Install", "Run it.\n\n```sh\n# a comment, not a heading\nmake\n```"),
        ("Guide › Install › Linux", "apt install"),
        ("Setext", "Last."),
    ]


def test_restructured_text_titles_rank_by_first_appearance(tmp_path: Path) -> None:
    path = tmp_path / "manual.rst"
    path.write_text(
        "======\nManual\n======\n\nAbout.\n\nUsage\n-----\n\nUse it.\n\nFlags\n~~~~~\n\n--fast\n\n"
        "Limits\n------\n\nNone.\n",
        encoding="utf-8",
    )
    assert [(s.heading, s.text) for s in load_document(path).sections] == [
        ("Manual", "About."),
        ("Manual › Usage", "Use it."),
        ("Manual › Usage › Flags", "--fast"),
        ("Manual › Limits", "None."),
    ]


def test_html_keeps_visible_text_under_its_headings(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<html><head><title>Handbook</title><style>p{}</style><script>var hidden = 1;</script></head>"
        "<body><p>Welcome   to <b>the</b> team &amp; office.</p><h2>Holidays</h2><p>25 days.<br>Plus "
        "public holidays.</p><pre>keep\n  spacing</pre></body></html>",
        encoding="utf-8",
    )
    sections = load_document(path).sections
    assert [(s.heading, s.text) for s in sections] == [
        ("Handbook", "Welcome to the team & office."),
        ("Handbook › Holidays", "25 days.\nPlus public holidays.\n\nkeep\n  spacing"),
    ]
    assert "hidden" not in str(sections)


def test_source_code_is_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "tool.py"
    path.write_text('def greet():\n    return "hello"\n', encoding="utf-8")
    document = load_document(path)
    assert document.kind == "code"
    assert document.sections[0].text == 'def greet():\n    return "hello"'


def test_legacy_encodings_are_decoded(tmp_path: Path) -> None:
    windows = tmp_path / "windows.txt"
    windows.write_bytes("Café crème – 5 €".encode("cp1252"))
    assert load_document(windows).sections[0].text == "Café crème – 5 €"
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes("Grüße aus Köln".encode("utf-16"))
    assert load_document(utf16).sections[0].text == "Grüße aus Köln"


def test_pdf_is_read_page_by_page_with_bookmarks_as_headings(tmp_path: Path) -> None:
    path = write_pdf(
        tmp_path / "report.pdf",
        ["Summary of the year.\nRevenue grew.", "Costs (fixed) fell.", "Outlook is bright."],
        bookmarks=[("Summary", 0), ("Details", 1)],
    )
    document = load_document(path)
    assert document.kind == "pdf"
    assert document.pages == 3
    assert [(s.page, s.heading, s.text) for s in document.sections] == [
        (1, "Summary", "Summary of the year.\nRevenue grew."),
        (2, "Details", "Costs (fixed) fell."),
        (3, "Details", "Outlook is bright."),
    ]


def test_pdf_pages_without_text_are_skipped_but_counted(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "mixed.pdf", [None, "Typed page."])
    document = load_document(path)
    assert document.pages == 2
    assert [(s.page, s.text) for s in document.sections] == [(2, "Typed page.")]


def test_a_pdf_restricted_without_a_password_is_read(tmp_path: Path) -> None:
    path = write_pdf(tmp_path / "restricted.pdf", ["Printing is restricted."], user_password="")
    assert load_document(path).sections[0].text == "Printing is restricted."


def test_word_documents_keep_headings_and_tables(tmp_path: Path) -> None:
    path = write_docx(
        tmp_path / "plan.docx",
        [("title", "Plan"), ("p", "Why we do it."), ("h1", "Budget"), ("table", "Item|Cost;Desk|200"),
         ("h2", "Risks"), ("p", "Delays.")],
    )  # fmt: skip
    document = load_document(path)
    assert document.kind == "docx"
    assert [(s.heading, s.text) for s in document.sections] == [
        ("Plan", "Why we do it."),
        ("Plan › Budget", "Item | Cost\nDesk | 200"),
        ("Plan › Budget › Risks", "Delays."),
    ]


@pytest.mark.parametrize(
    ("name", "content", "problem", "words"),
    [
        ("empty.txt", b"", "empty", "is empty (0 bytes)"),
        ("blank.md", b" \n\n\t \n", "empty", "only white space"),
        ("photo.txt", bytes(range(256)) * 8, "binary", "is not text, although its name ends in .txt"),
        ("noise.md", b"\x01\x02\x03\x04\x05\x06" * 200, "binary", "is not text"),
        ("program.exe", b"MZ", "unsupported", "not a kind of document Reflexia reads (.exe)"),
        ("fake.pdf", b"%PDF-1.4\nnot really a PDF at all", "broken", "is not a readable PDF"),
        ("fake.docx", b"PK\x03\x04 not a zip archive", "broken", "not a readable Word document"),
        ("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "encrypted", "password-protected"),
    ],
)
def test_each_bad_file_gets_its_own_message(
    tmp_path: Path, name: str, content: bytes, problem: str, words: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    error = problem_of(path)
    assert error.problem == problem
    assert words in str(error)


def test_a_truncated_pdf_is_broken(tmp_path: Path) -> None:
    whole = write_pdf(tmp_path / "whole.pdf", ["Some text."]).read_bytes()
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(whole[: len(whole) // 2])
    assert problem_of(cut).problem == "broken"


def test_an_encrypted_pdf_asks_for_the_password(tmp_path: Path) -> None:
    error = problem_of(write_pdf(tmp_path / "secret.pdf", ["Secret."], user_password="hunter2"))
    assert error.problem == "encrypted"
    assert "protected by a password" in str(error)


def test_a_scanned_pdf_says_it_has_no_text_layer(tmp_path: Path) -> None:
    error = problem_of(write_pdf(tmp_path / "scan.pdf", [None, None, None]))
    assert error.problem == "no_text"
    assert "no text layer on any of its 3 pages" in str(error)
    assert "OCR" in str(error)


def test_a_100_mb_text_file_is_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as file:
        file.truncate(100 * MB)  # sparse: only the size matters, it is refused before reading
    error = problem_of(path)
    assert error.problem == "too_large"
    assert "is 100.0 MB, over the 20.0 MB limit" in str(error)


def test_the_size_limit_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "small.txt"
    path.write_text("x" * 2000, encoding="utf-8")
    assert problem_of(path, LoaderLimits(max_text_bytes=1000)).problem == "too_large"
    assert load_document(path, LoaderLimits(max_text_bytes=4000)).sections


def test_a_vanished_file_and_a_folder(tmp_path: Path) -> None:
    assert problem_of(tmp_path / "gone.txt").problem == "vanished"
    folder = tmp_path / "folder.md"
    folder.mkdir()
    error = problem_of(folder)
    assert (error.problem, error.detail) == ("unreadable", "is a folder, not a file")


def test_an_unreadable_file_says_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "private.txt"
    path.write_text("secret", encoding="utf-8")
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the file behave as it does for everyone else
        real_open = Path.open

        def refuse(self: Path, *args: object, **kwargs: object) -> object:
            if self == path.absolute():
                raise PermissionError(13, "Permission denied", str(self))
            return real_open(self, *args, **kwargs)  # type: ignore[call-overload]

        monkeypatch.setattr(Path, "open", refuse)
    error = problem_of(path)
    assert (error.problem, error.detail) == ("unreadable", "cannot be read: permission denied")


def test_find_documents_walks_folders_and_names_missing_paths(tmp_path: Path) -> None:
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    (tmp_path / "docs" / ".git").mkdir()
    (tmp_path / "docs" / "node_modules").mkdir()
    names = ("docs/a.md", "docs/sub/b.pdf", "docs/sub/c.py", "docs/image.png", "docs/.hidden.md",
             "docs/.git/config.txt", "docs/node_modules/lib.js", "docs/README", "single.bin")  # fmt: skip
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    found, missing = find_documents([tmp_path / "docs", tmp_path / "single.bin", tmp_path / "nowhere"])
    assert found == [
        tmp_path / "docs" / "README",
        tmp_path / "docs" / "a.md",
        tmp_path / "docs" / "sub" / "b.pdf",
        tmp_path / "docs" / "sub" / "c.py",
        tmp_path / "single.bin",  # named by the user: read, so they hear why it fails
    ]
    assert [(e.path, e.problem, e.detail) for e in missing] == [
        (tmp_path / "nowhere", "missing", "does not exist")
    ]
