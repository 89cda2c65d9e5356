"""Judge verdict parsing (single ratings, pairwise, position swap), the judge graders, and the judge prompts."""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

import pytest
import yaml

from nemo_pipeline.errors import DataError
from nemo_pipeline.evaluation import judge_grader  # noqa: F401  (registers "judge", "judge_pairwise")
from nemo_pipeline.evaluation.graders import GRADERS, GraderContext
from nemo_pipeline.evaluation.judge_grader import (
    combine_swapped,
    pairwise_score,
    parse_pairwise,
    parse_single_rating,
)

PROMPTS = Path(__file__).resolve().parents[2] / "conf" / "prompt" / "judge"

MT_BENCH_STYLE = (
    "The assistant's answer is accurate and well organised. It explains the water cycle step by step, "
    "although it could mention transpiration.\n\nRating: [[8]]"
)

SINGLE_ROWS: list[tuple[str | None, float | None]] = [
    # the format the prompts ask for
    (MT_BENCH_STYLE, 8.0),
    ("Rating: [[7]]", 7.0),
    ("[[7.5]]", 7.5),
    ("Rating: [[ 10 ]]", 10.0),
    ("Rating: [[1]]", 1.0),
    ("Rating: [[9/10]]", 9.0),
    ("**Rating:** [[6]]", 6.0),
    ("Rating: `[[4]]`", 4.0),
    # labelled numbers without double brackets
    ("Score: 7/10", 7.0),
    ("Overall score: 6 out of 10.", 6.0),
    ("**Rating**: 5", 5.0),
    ("Final rating (1-10): 9", 9.0),
    ("I would give this answer a rating of 3.", 3.0),
    ("Rating: [8]", 8.0),
    ("Grade = 6.5", 6.5),
    # bare "N/10", "N out of 10", "[N]"
    ("Solid answer overall, 8/10.", 8.0),
    ("I'd put it at 4 out of 10 because the code does not compile.", 4.0),
    ("Verdict: [6]", 6.0),
    # judges quote the format before deciding: the last one counts
    ('I must answer in the format "Rating: [[5]]". The answer has errors.\nRating: [[3]]', 3.0),
    ("Initially I thought [[6]], but the proof skips a case. Revised: [[4]]", 4.0),
    # double brackets win over other forms, whatever the order
    ("Rating: [[7]]\n(That is roughly 7/10; score 9 for style.)", 7.0),
    # unparseable: recorded as None, never guessed
    (None, None),
    ("", None),
    ("The answer is good but incomplete.", None),
    ("Rating: [[rating]]", None),
    ("Rating: [[N]]", None),
    ("On a scale of 1 to 10, where would this fall? Hard to say.", None),
    ("The rating scale is 1-10.", None),
    ("I cannot rate this response.", None),
    # out of range or another scale: None rather than a wrong number
    ("Rating: [[0]]", None),
    ("Rating: [[11]]", None),
    ("Rating: [[85]]", None),
    ("Score: 4/5", None),
    ("Score: 85/100", None),
    ("Rating: -3", None),
    # numbers that are not ratings
    ("The function returns 42 after 3 iterations.", None),
    ("See reference [3] and [12].", None),  # citation brackets out of range stay None (last is [12])
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("text", "expected"), SINGLE_ROWS)
def test_parse_single_rating(text: str | None, expected: float | None) -> None:
    assert parse_single_rating(text) == expected


PAIR_ROWS: list[tuple[str | None, str | None]] = [
    ("Assistant A explains the recursion correctly; B has an off-by-one error.\n\n[[A]]", "A"),
    ("Both are fine but B is more concise. [[B]]", "B"),
    ("They are equally good.\n[[C]]", "tie"),
    ("My final verdict is tie: [[A=B]]", "tie"),
    ("My final verdict is: [[A>>B]]", "A"),
    ("My final verdict is: [[A>B]]", "A"),
    ("My final verdict is: [[B>A]]", "B"),
    ("My final verdict is: [[B>>A]]", "B"),
    ("[[ B ]]", "B"),
    ("[[b]]", "B"),
    ("**[[A]]**", "A"),
    ("[[Tie]]", "tie"),
    # quoting the format before the verdict
    ('Output "[[A]]" if A is better, "[[B]]" if B is better, "[[C]]" for a tie. Here A wins: [[A]]', "A"),
    ("I first leaned to [[A]], but B's answer is correct and A's is not. Final verdict: [[B]]", "B"),
    # labelled verdicts without brackets
    ("Final verdict: B", "B"),
    ("Final Verdict: Assistant A", "A"),
    ("My final verdict is that Assistant B is better.", "B"),
    ("Verdict: a tie.", "tie"),
    # unparseable
    (None, None),
    ("", None),
    ("Both answers have merits.", None),
    ("Assistant A is better.", None),  # no verdict format: not guessed
    ("[[D]]", None),
    ("[[AB]]", None),
    ("A [[ placeholder ]] here", None),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("text", "expected"), PAIR_ROWS)
def test_parse_pairwise(text: str | None, expected: str | None) -> None:
    assert parse_pairwise(text) == expected


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("first", "swapped", "combined", "score"),
    [
        ("A", "B", "A", 1.0),  # answer 1 wins in both positions
        ("B", "A", "B", 0.0),  # answer 2 wins in both positions
        ("tie", "tie", "tie", 0.5),
        ("A", "A", "inconsistent", 0.5),  # position A won both times: position bias
        ("B", "B", "inconsistent", 0.5),
        ("A", "tie", "inconsistent", 0.5),
        ("tie", "A", "inconsistent", 0.5),
        (None, "A", "unparseable", None),
        ("A", None, "unparseable", None),
    ],
)
def test_combine_swapped(first: Any, swapped: Any, combined: str, score: float | None) -> None:
    assert combine_swapped(first, swapped) == combined
    assert pairwise_score(combined) == score


def judge(**fields: Any) -> Any:
    return GRADERS.get("judge")({"id": "q1", "problem": "Why is the sky blue?", **fields}, GraderContext())


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("output", "correct", "predicted", "reason"),
    [
        (MT_BENCH_STYLE, True, "8", "rating 8 >= threshold 7"),
        ("Rating: [[7]]", True, "7", "rating 7 >= threshold 7"),
        ("Rating: [[6.5]]", False, "6.5", "rating 6.5 < threshold 7"),
        ("The answer is wrong.", False, None, "unparseable"),
        (None, False, None, "unparseable"),  # the judge request failed: recorded, not dropped
    ],
)
def test_judge_grader(output: str | None, correct: bool, predicted: str | None, reason: str) -> None:
    verdict = judge(judge_generation=output)
    assert (verdict.correct, verdict.predicted, verdict.reason) == (correct, predicted, reason)
    if predicted is None:
        assert verdict.scores == {"judge_unparseable": 1.0}
    else:
        assert verdict.scores == {"judge_rating": float(predicted), "judge_unparseable": 0.0}


@pytest.mark.timeout(10)
def test_judge_grader_threshold_and_turns() -> None:
    assert judge(judge_generation="Rating: [[5]]", judge_threshold=5).correct
    two_turns = judge(judge_generation=["Rating: [[9]]", "Rating: [[6]]"])
    assert two_turns.predicted == "7.5" and two_turns.correct
    assert two_turns.scores["judge_rating_turn2"] == 6.0
    one_bad = judge(judge_generation=["Rating: [[9]]", "no idea"])
    assert one_bad.predicted is None and one_bad.reason == "unparseable (turn 2)"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("fields", "message"), [({}, "has no 'judge_generation'"), ({"judge_generation": 7}, "string")]
)
def test_judge_grader_rejects_items_without_judge_output(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        judge(**fields)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("first", "swapped", "correct", "predicted", "win"),
    [
        ("A is better. [[A]]", "B is better. [[B]]", True, "A", 1.0),
        ("[[A]]", "[[A]]", False, "inconsistent", 0.5),
        ("[[B>>A]]", "[[A>B]]", False, "B", 0.0),
        ("[[C]]", "[[C]]", False, "tie", 0.5),
        ("hmm", "[[B]]", False, None, None),
    ],
)
def test_judge_pairwise_grader(
    first: str, swapped: str, correct: bool, predicted: str | None, win: float | None
) -> None:
    item = {"id": "p1", "judge_generation": first, "judge_generation_swapped": swapped}
    verdict = GRADERS.get("judge_pairwise")(item, GraderContext())
    assert (verdict.correct, verdict.predicted) == (correct, predicted)
    assert verdict.scores.get("judge_win") == win


EXPECTED_FIELDS = {
    "single.yaml": {"question", "answer"},
    "single-reference.yaml": {"question", "answer", "reference"},
    "pairwise.yaml": {"question", "answer_a", "answer_b"},
    "pairwise-reference.yaml": {"question", "reference", "answer_a", "answer_b"},
}


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", sorted(EXPECTED_FIELDS))
def test_judge_prompts_render_and_ask_for_a_parseable_verdict(name: str) -> None:
    prompt = yaml.safe_load((PROMPTS / name).read_text())
    assert set(prompt) == {"mode", "system", "user"} and prompt["mode"] == "chat"
    fields = {f for _, f, _, _ in string.Formatter().parse(prompt["user"]) if f}
    assert fields == EXPECTED_FIELDS[name]
    assert not [f for _, f, _, _ in string.Formatter().parse(prompt["system"]) if f]
    values = {f: "{braces} stay as they are" for f in fields}
    rendered = prompt["user"].format(**values)
    assert "{braces} stay as they are" in rendered
    # Every verdict format the prompt shows must itself parse, so a judge copying the format is understood.
    shown = re.findall(r'"((?:Rating: )?\[\[[^\]]+\]\])"', rendered)
    if name.startswith("single"):
        assert shown == ["Rating: [[N]]", "Rating: [[6]]"]
        assert [parse_single_rating(s) for s in shown] == [None, 6.0]
    else:
        assert [parse_pairwise(s) for s in shown] == ["A", "B", "tie"]


@pytest.mark.timeout(60)
def test_judge_runs_in_the_grading_pool() -> None:
    from nemo_pipeline.evaluation import grade_all

    outputs = [MT_BENCH_STYLE, "Rating: [[3]]", "no rating here", None]
    items = [{"id": str(k), "judge_generation": o} for k, o in enumerate(outputs)]
    verdicts = grade_all("judge", items, GraderContext(), timeout_s=20.0, workers=2)
    assert [v.predicted for v in verdicts] == ["8", "3", None, None]
    assert [v.reason for v in verdicts][2:] == ["unparseable", "unparseable"]


PATHOLOGICAL = [
    "rating" + " " * 20000 + "x",
    "[[" + " " * 20000,
    "[" * 20000,
    "score: (" * 5000,
    "1/" * 10000,
    "verdict " * 5000 + "'",
    "Rating: " + "9" * 20000,
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("text", PATHOLOGICAL, ids=[repr(p[:6]) for p in PATHOLOGICAL])
def test_pathological_judge_outputs_parse_fast(text: str) -> None:
    import time

    start = time.perf_counter()
    assert parse_single_rating(text) is None
    assert parse_pairwise(text) is None
    assert time.perf_counter() - start < 1.0
