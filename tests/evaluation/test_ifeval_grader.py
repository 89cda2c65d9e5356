"""The registered `ifeval` grader and the benchmark-level aggregate."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from nemo_pipeline.errors import DataError
from nemo_pipeline.evaluation import ifeval_grader  # noqa: F401  (registers "ifeval")
from nemo_pipeline.evaluation.graders import GRADERS, GraderContext, Verdict
from nemo_pipeline.evaluation.ifeval_grader import grade_ifeval, ifeval_aggregate
from nemo_pipeline.records import GradedLine

# A real-looking IFEval item (the shape the loader writes: key fields kept, kwargs one dict per instruction).
ITEM: dict[str, Any] = {
    "id": "1000",
    "problem": "Write a 30+ word summary. Do not use any commas and highlight at least 2 sections with markdown.",
    "expected_answer": "",
    "instruction_id_list": [
        "punctuation:no_comma",
        "detectable_format:number_highlighted_sections",
        "length_constraints:number_words",
    ],
    "kwargs": [{}, {"num_highlights": 2}, {"relation": "at least", "num_words": 30}],
}
GOOD = (
    "*Early life* Raymond was born in 1140 and became count of Tripoli as a child. "
    "*Later years* He fought Saladin and died in 1187 after the battle of Hattin which ended his long and "
    "troubled rule over the county."
)


def grade(generation: str, **extra: Any) -> Verdict:
    return GRADERS.get("ifeval")({**ITEM, "generation": generation, **extra}, GraderContext())


@pytest.mark.timeout(10)
def test_all_followed() -> None:
    verdict = grade(GOOD)
    assert verdict.correct
    assert verdict.predicted == "1,1,1"
    assert verdict.reason == "all followed"
    assert verdict.scores == {
        "prompt_strict": 1.0,
        "prompt_loose": 1.0,
        "instruction_strict": 1.0,
        "instruction_loose": 1.0,
        "instructions_total": 3.0,
        "instructions_followed_strict": 3.0,
        "instructions_followed_loose": 3.0,
    }


@pytest.mark.timeout(10)
def test_partly_followed_names_the_failures() -> None:
    verdict = grade(GOOD.replace("born in 1140", "born, in 1140"))
    assert not verdict.correct
    assert verdict.predicted == "0,1,1"
    assert verdict.reason == "not followed: punctuation:no_comma"
    assert verdict.scores["instruction_strict"] == pytest.approx(2 / 3)
    assert verdict.scores["prompt_loose"] == 0.0


@pytest.mark.timeout(10)
def test_loose_can_pass_where_strict_fails() -> None:
    # The comma sits in a chatty first line, which the loose variant drops.
    verdict = grade("Sure, here is the summary:\n" + GOOD)
    assert verdict.scores["prompt_strict"] == 0.0
    assert verdict.scores["prompt_loose"] == 1.0
    assert verdict.scores["instructions_followed_loose"] == 3.0
    assert not verdict.correct


@pytest.mark.timeout(10)
def test_empty_generation_is_no_answer() -> None:
    verdict = grade("   ")
    assert verdict.predicted is None
    assert not verdict.correct
    assert verdict.reason == "empty response"
    assert verdict.scores["instructions_followed_loose"] == 0.0


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"instruction_id_list": None}, "has no 'instruction_id_list'"),
        ({"kwargs": [{}]}, "one dict per instruction"),
        ({"instruction_id_list": ["punctuation:no_comma", "nope:nope", "keywords:existence"]}, "'nope:nope'"),
    ],
)
def test_bad_items_raise_data_error(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        grade(GOOD, **fields)


@pytest.mark.timeout(10)
def test_missing_kwargs_means_no_kwargs() -> None:
    item = {"id": "x", "generation": "no commas here", "instruction_id_list": ["punctuation:no_comma"]}
    assert grade_ifeval(item).correct


@pytest.mark.timeout(10)
def test_aggregate_is_micro_averaged_over_instructions() -> None:
    records = [
        {"id": "a", "scores": grade(GOOD).scores},  # 3/3 strict and loose
        {"id": "b", "scores": grade("Sure, here:\n" + GOOD).scores},  # strict 2/3, loose 3/3
        {
            "id": "c",
            "scores": grade_ifeval(
                {"id": "c", "generation": "a, b", "instruction_id_list": ["punctuation:no_comma"]}
            ).scores,
        },  # 0/1
    ]
    # Round-trips through JSON as the evaluate stage writes it, read back as the metrics stage reads it.
    lines = [json.loads(json.dumps({**r, "is_correct": False})) for r in records]
    result = ifeval_aggregate([GradedLine.read(line, f"line {n}") for n, line in enumerate(lines)])
    assert result["num_prompts"] == 3 and result["num_instructions"] == 7
    assert result["prompt_strict_accuracy"] == pytest.approx(100 / 3)
    assert result["prompt_loose_accuracy"] == pytest.approx(200 / 3)
    assert result["instruction_strict_accuracy"] == pytest.approx(100 * 5 / 7)  # not the mean of 1, 2/3, 0
    assert result["instruction_loose_accuracy"] == pytest.approx(100 * 6 / 7)
    assert ifeval_aggregate([grade(GOOD)])["prompt_strict_accuracy"] == 100.0
    assert ifeval_aggregate([])["instruction_loose_accuracy"] == 0.0


@pytest.mark.timeout(10)
def test_aggregate_rejects_records_without_ifeval_scores() -> None:
    with pytest.raises(DataError, match="record 'q1' has no ifeval scores"):
        line = {"id": "q1", "is_correct": True, "scores": {"judge_rating": 3.0}}
        ifeval_aggregate([GradedLine.read(line, "line 1")])


@pytest.mark.timeout(30)
def test_grading_is_fast() -> None:
    long_answer = "\n\n".join([GOOD] * 40)  # about 1,500 words
    start = time.perf_counter()
    for _ in range(50):
        grade(long_answer)
    assert (time.perf_counter() - start) / 50 < 0.05


@pytest.mark.timeout(60)
def test_runs_in_the_grading_pool() -> None:
    from nemo_pipeline.evaluation import grade_all

    items = [{**ITEM, "id": str(k), "generation": GOOD if k % 2 else "Sure, " + GOOD} for k in range(6)]
    verdicts = grade_all("ifeval", items, GraderContext(), timeout_s=20.0, workers=2)
    assert [v.correct for v in verdicts] == [False, True, False, True, False, True]
    assert ifeval_aggregate(verdicts)["instruction_strict_accuracy"] == pytest.approx(100 * 15 / 18)
