"""openai/simple-evals' multiple-choice scoring (gpqa_eval.py, commit ee3b0318): the first match of
ANSWER_PATTERN_MULTICHOICE, "Answer" in any case, then ":" with spaces or tabs around it and the letter, optionally
between "$" signs ("Answer: $B$"); the letter is compared as found, so "answer: b" scores 0, as there."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from nemo_pipeline.evaluation.graders import GraderContext, Verdict, register_grader
from nemo_pipeline.records import Generated

__all__ = ["extract_simple_evals", "simple_evals_mcq_grader"]

_ANSWER = re.compile(r"(?i)Answer[ \t]*:[ \t]*\$?([A-D])\$?")


def extract_simple_evals(text: str) -> str | None:
    """The letter simple-evals extracts from a response (as written, any case), or None."""
    found = _ANSWER.search(text)
    return found.group(1) if found else None


@register_grader("simple-evals-mcq")
def simple_evals_mcq_grader(item: Mapping[str, Any], context: GraderContext) -> Verdict:
    """Score 1 when the extracted letter equals the correct one exactly; no match scores 0."""
    predicted = extract_simple_evals(Generated.answer_of(item))
    if predicted is None:
        return Verdict(False, None, "no_answer")
    correct = predicted == str(item.get("expected_answer"))
    return Verdict(correct, predicted, "equivalent" if correct else "not_equivalent")
