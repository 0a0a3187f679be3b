"""`reflexia ask`: the real SmolLM2 answers from the one file that holds the fact, and cites it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.test_cli import assert_one_line_error, assert_success, reflexia_cli
from tests.grounding_docs import FACT_FILE, QUESTION, write_grounding_docs

GREEDY = ("--temperature", "0", "--max-tokens", "60")


def test_a_fact_in_one_indexed_file_comes_back_with_that_file_cited(
    tmp_path: Path, smollm2_model: Path
) -> None:
    docs = write_grounding_docs(tmp_path / "docs")
    assert_success(reflexia_cli("index", docs, "--collection", "plant"))

    run = reflexia_cli("ask", QUESTION, "--model", smollm2_model, "--collection", "plant", "--json", *GREEDY)
    assert_success(run)
    answer = json.loads(run.stdout)
    assert "42" in answer["text"], answer["text"]
    assert answer["sources"], "no source cited"
    assert Path(answer["sources"][0]["source"]) == docs / FACT_FILE
    assert {"source", "page", "score"} <= set(answer["sources"][0])
    assert answer["completion_tokens"] > 0 and answer["tokens_per_s"] > 0  # the stats of `chat --json`

    run = reflexia_cli("ask", QUESTION, "--model", smollm2_model, "--collection", "plant", *GREEDY)
    assert_success(run)
    assert "42" in run.stdout and f"[1] {docs / FACT_FILE}" in run.stdout


def test_a_question_the_documents_do_not_answer_cites_nothing(tmp_path: Path, smollm2_model: Path) -> None:
    docs = write_grounding_docs(tmp_path / "docs")
    assert_success(reflexia_cli("index", docs))
    run = reflexia_cli("ask", "Who won the football world cup in 1966?", "--model", smollm2_model, *GREEDY)
    assert_success(run)
    assert "Nothing relevant was found in collection 'default'" in run.stdout
    run = reflexia_cli("ask", "Who won in 1966?", "--model", smollm2_model, "--json", *GREEDY)
    assert json.loads(run.stdout)["sources"] == []


def test_asking_a_collection_that_does_not_exist_is_one_clear_line(
    tmp_path: Path, smollm2_model: Path
) -> None:
    run = reflexia_cli("ask", QUESTION, "--model", smollm2_model, "--collection", "nope")
    assert_one_line_error(run, "there is no document collection named 'nope'")
