"""GPQA diamond against openai/simple-evals' own code (commit ee3b0318, not on PyPI): its GPQAEval, run once by
tests/fixtures/gsm8k_gpqa_reference/make_gpqa_verdicts.py on the stored responses of the embedded model (and on
hand-written edge cases, scripted_gpqa.jsonl), kept for
each of its 792 examples the sha256 of the prompt it sent and, for the answered ones, its score. Our items must
give the same prompts (question, permutation, template) and our grader the same scores."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from nemo_pipeline.datasets import BENCHMARKS
from nemo_pipeline.datasets.benchmarks import gpqa_diamond
from nemo_pipeline.evaluation import GRADERS, GraderContext
from nemo_pipeline.evaluation.simple_evals_grader import extract_simple_evals
from nemo_pipeline.inference.prompts import load_prompt
from nemo_pipeline.jsonl import read_jsonl

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "gsm8k_gpqa_reference"


@pytest.fixture(scope="module")
def items() -> list[dict]:
    return gpqa_diamond.load(gpqa_diamond.SOURCE)


@pytest.mark.timeout(300)
def test_prompts_and_permutations_equal_simple_evals(items: list[dict]) -> None:
    reference = read_jsonl(FIXTURES / "gpqa_simple_evals.jsonl")
    assert len(reference) == len(items) == 792
    prompt = load_prompt(BENCHMARKS.get("gpqa-diamond").prompt_config)
    for item, theirs in zip(items, reference, strict=True):
        (message,) = prompt.render(item)
        assert item["id"] == theirs["id"]
        assert hashlib.sha256(message["content"].encode()).hexdigest() == theirs["prompt"], item["id"]
    assert len({tuple(item["permutation"]) for item in items if item["id"].startswith(items[0]["id"][:-1])}) > 1


@pytest.mark.timeout(300)
def test_verdicts_equal_simple_evals_on_stored_responses(items: list[dict]) -> None:
    by_id = {item["id"]: item for item in items}
    scores = {r["id"]: r["score"] for r in read_jsonl(FIXTURES / "gpqa_simple_evals.jsonl") if "score" in r}
    model = [r for r in read_jsonl(FIXTURES / "responses.jsonl") if r["benchmark"] == "gpqa-diamond"]
    responses = model + read_jsonl(FIXTURES / "scripted_gpqa.jsonl")  # + hand-written edge cases
    assert len(responses) == len(scores) and len(model) >= 8
    grade = GRADERS.get(BENCHMARKS.get("gpqa-diamond").grader)
    for response in responses:
        verdict = grade({**by_id[response["id"]], "generation": response["response"]}, GraderContext())
        assert float(verdict.correct) == scores[response["id"]], response["id"]
    assert 0 < sum(scores.values()) < len(scores)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("Answer: B", "B"),
        ("Answer: $B$", "B"),
        ("answer:\tc", "c"),  # found as written; "c" never equals "C"
        ("Answer: A\nOn reflection, Answer: D", "A"),  # the first anchor
        ("**Answer:** C", None),  # "**" between ":" and the letter: no match
        ("The answer is B", None),
        ("Answer: E", None),
    ],
)
def test_extraction_follows_answer_pattern_multichoice(text: str, letter: str | None) -> None:
    assert extract_simple_evals(text) == letter
    verdict = GRADERS.get("simple-evals-mcq")({"generation": text, "expected_answer": "C"}, GraderContext())
    assert verdict.correct == (letter == "C")
