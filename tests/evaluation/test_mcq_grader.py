"""The multiple-choice grader: letters in their usual spellings, and option texts."""

from __future__ import annotations

import pytest

from nemo_pipeline.evaluation import GRADERS, GraderContext, Verdict
from nemo_pipeline.evaluation.mcq_grader import extract_choice, option_letters

OPTIONS = {"A": "Paris", "B": "London", "C": "Berlin", "D": "Madrid"}


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("generation", "expected"),
    [
        ("(B)", "B"),
        ("B.", "B"),
        ("B", "B"),
        ("Answer: B", "B"),
        ("answer: (b)", "B"),
        ("The answer is B.", "B"),
        ("I think the answer is (C) because...", "C"),
        ("The final answer is \\boxed{D}", "D"),
        ("\\boxed{(A)}", "A"),
        ("\\boxed{London}", "B"),
        ("The answer is Berlin.", "C"),
        ("madrid", "D"),
        ("Between (A) and (C), I pick (C).", "C"),
        ("Answer: A\nWait, no. Answer: D", "D"),
        ("C) Berlin is right", "C"),
        ("The answer is a city in Europe.", None),
        ("I am not sure.", None),
        ("", None),
        ("Answer: E", None),
        ("**Answer:** B", "B"),
    ],
)
def test_extract_choice(generation: str, expected: str | None) -> None:
    assert extract_choice(generation, OPTIONS) == expected


@pytest.mark.timeout(10)
def test_option_letters_from_options_choices_or_default() -> None:
    assert option_letters({"options": {"a": "x", "b": "y"}}) == {"A": "x", "B": "y"}
    assert option_letters({"choices": ["x", "y", "z"]}) == {"A": "x", "B": "y", "C": "z"}
    assert list(option_letters({})) == list("ABCDEFGHIJ")


@pytest.mark.timeout(10)
def test_mcq_grader_verdicts() -> None:
    grade = GRADERS.get("mcq")
    ctx = GraderContext()
    assert grade({"generation": "Answer: (B)", "expected_answer": "B", "options": OPTIONS}, ctx) == Verdict(
        True, "B", "equivalent"
    )
    assert grade({"generation": "Answer: B", "expected_answer": "(b)", "options": OPTIONS}, ctx).correct
    assert grade({"generation": "Answer: B", "expected_answer": "London", "options": OPTIONS}, ctx).correct
    assert grade({"generation": "Answer: C", "expected_answer": "B", "options": OPTIONS}, ctx) == Verdict(
        False, "C", "not_equivalent"
    )
    assert grade({"generation": "no idea", "expected_answer": "B", "options": OPTIONS}, ctx) == Verdict(
        False, None, "no_answer"
    )
    assert grade({"generation": "Answer: B", "expected_answer": "Z", "options": OPTIONS}, ctx).reason.startswith(
        "bad_expected_answer"
    )
