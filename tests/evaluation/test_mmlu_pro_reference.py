"""MMLU-Pro against TIGER-AI-Lab/MMLU-Pro's own code (commit f418b116): its extraction's letter on 232 responses of
six models that the reference repository ships (tests/fixtures/mmlu_pro_reference/mmlu_pro_reference.jsonl, made by
make_fixture.py there, which runs the reference's functions), and the prompts its evaluate_from_local.py and
evaluate_from_api.py build for the rows of tests/fixtures/datasets/mmlu-pro (mmlu_pro_prompts.jsonl, made by
make_prompts.py)."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from nemo_pipeline.datasets import BENCHMARKS
from nemo_pipeline.evaluation import GRADERS, GraderContext
from nemo_pipeline.evaluation.mmlu_pro_grader import extract_mmlu_pro, guess
from nemo_pipeline.inference.prompts import load_prompt
from nemo_pipeline.jsonl import read_jsonl
from tests.datasets.conftest import install_fixture

REFERENCE = Path(__file__).resolve().parent.parent / "fixtures" / "mmlu_pro_reference"


@pytest.mark.timeout(60)
def test_extraction_equals_the_reference_on_shipped_responses() -> None:
    rows = read_jsonl(REFERENCE / "mmlu_pro_reference.jsonl")
    assert len(rows) == 232 and len({row["model"] for row in rows}) == 6
    assert sum(row["reference_pred"] is None for row in rows) == 36  # unanswered items are covered too
    mismatches = [
        (r["model"], r["question_id"]) for r in rows if extract_mmlu_pro(r["response"]) != r["reference_pred"]
    ]
    assert mismatches == []
    api_models = {"gemini-1.5-flash-002", "jamba-1.5-large"}  # files made by the current extraction
    assert all(r["shipped_pred"] == r["reference_pred"] for r in rows if r["model"] in api_models)


@pytest.mark.timeout(60)
def test_grader_scores_the_reference_letter_and_guesses_when_unanswered() -> None:
    grade = GRADERS.get("mmlu-pro")
    outcomes: collections.Counter[str] = collections.Counter()
    for row in read_jsonl(REFERENCE / "mmlu_pro_reference.jsonl"):
        options = {letter: f"option {letter}" for letter in "ABCDEFGHIJ"[: row["num_options"]]}
        item = {"id": f"mmlu-pro-{row['question_id']}", "options": options, "expected_answer": row["answer"],
                "generation": row["response"]}  # fmt: skip
        verdict = grade(item, GraderContext())
        assert verdict.predicted == row["reference_pred"]
        if row["reference_pred"] is None:
            guessed = "ABCDEFGHIJ"[guess(item["id"], row["num_options"])]
            assert verdict.correct == (guessed == row["answer"]) and verdict.reason.endswith(guessed)
            assert grade(item, GraderContext()) == verdict  # the guess is the same on a rerun
        else:
            assert verdict.correct == (row["reference_pred"] == row["answer"])
        outcomes[str(verdict.correct)] += 1
    assert outcomes["True"] and outcomes["False"]


@pytest.mark.timeout(60)
def test_guess_is_uniform_over_the_options() -> None:
    counts = collections.Counter(guess(f"mmlu-pro-{n}", 4) for n in range(4000))
    assert set(counts) == {0, 1, 2, 3} and all(800 < c < 1200 for c in counts.values())


@pytest.mark.timeout(60)
def test_chat_variant_removes_bold_markers_as_evaluate_from_api() -> None:
    item = {"id": "mmlu-pro-1", "options": {"A": "x", "B": "y"}, "expected_answer": "B",
            "generation": "The answer is **B**, not A."}  # fmt: skip
    assert GRADERS.get("mmlu-pro-chat")(item, GraderContext()).predicted == "B"
    assert GRADERS.get("mmlu-pro")(item, GraderContext()).predicted == "A"  # local: the last standalone letter


@pytest.mark.timeout(60)
def test_prompts_equal_the_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEMO_PIPELINE_CACHE", str(tmp_path))
    install_fixture(tmp_path, "mmlu-pro")
    benchmark = BENCHMARKS.get("mmlu-pro")
    items = benchmark.load(benchmark.source)
    expected = {row["question_id"]: row for row in read_jsonl(REFERENCE / "mmlu_pro_prompts.jsonl")}
    assert len(items) == len(expected) == 3
    official = load_prompt(benchmark.prompt_config)
    variant = benchmark.variant("chat")
    assert variant is not None and variant.prompt_config is not None
    chat = load_prompt(variant.prompt_config)
    for item in items:
        reference = expected[int(item["id"].removeprefix("mmlu-pro-"))]
        assert official.render(item) == reference["local"]
        assert chat.render(item) == [{"role": "user", "content": reference["api"]}]
    assert official.stop == ("Question:",) and official.mode == "completion"
    assert items[0]["fewshot_prompt"].count("Answer: Let's think step by step.") == 6  # 5 shots of 6 + the question
