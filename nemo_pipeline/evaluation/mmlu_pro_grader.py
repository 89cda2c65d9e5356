"""MMLU-Pro's answer extraction, as TIGER-AI-Lab's evaluate scripts do it (commit f418b116):

1. the first "answer is (X)" / "answer is X" (case-sensitive, letters A-J);
2. else the last "Answer: X" / "answer: X" (the greedy `.*` of the reference's pattern picks the last one on a line);
3. else the last standalone letter A-J in the whole text.

An item with no answer scores a random guess among its options, as the reference's accuracy does; ours is seeded by
the item id, so a rerun scores the same (the reference draws from one stream seeded 12345 for the whole run). The
`mmlu-pro-chat` grader first removes "**", as evaluate_from_api.py does with every response.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import Any

from nemo_pipeline.evaluation.graders import GraderContext, Verdict, register_grader
from nemo_pipeline.evaluation.mcq_grader import option_letters
from nemo_pipeline.records import Generated

__all__ = ["extract_mmlu_pro", "guess", "mmlu_pro_chat_grader", "mmlu_pro_grader"]

_FIRST = re.compile(r"answer is \(?([A-J])\)?")
_AGAIN = re.compile(r".*[aA]nswer:\s*([A-J])")
_FINAL = re.compile(r"\b[A-J]\b(?!.*\b[A-J]\b)", re.DOTALL)
GUESS_SEED = "mmlu-pro/12345"


def extract_mmlu_pro(text: str) -> str | None:
    """The letter the reference's `extract_answer` finds in a response, or None."""
    for pattern in (_FIRST, _AGAIN):
        found = pattern.search(text)
        if found:
            return found.group(1)
    found = _FINAL.search(text)
    return found.group(0) if found else None


def guess(item_id: str, num_options: int) -> int:
    """The option index guessed for an unanswered item: uniform over its options, seeded by the item id."""
    return random.Random(f"{GUESS_SEED}/{item_id}").randint(0, num_options - 1)


def _grade(item: Mapping[str, Any], text: str) -> Verdict:
    options = option_letters(item)
    expected = str(item.get("expected_answer") or "").strip()
    if expected not in options:
        return Verdict(False, None, f"bad_expected_answer: {item.get('expected_answer')!r} is not an option")
    predicted = extract_mmlu_pro(text)
    if predicted is None:
        letter = list(options)[guess(str(item.get("id")), len(options))]
        return Verdict(letter == expected, None, f"no_answer: random guess {letter}")
    correct = predicted == expected
    return Verdict(correct, predicted, "equivalent" if correct else "not_equivalent")


@register_grader("mmlu-pro")
def mmlu_pro_grader(item: Mapping[str, Any], context: GraderContext) -> Verdict:
    """Grade an MMLU-Pro response as evaluate_from_local.py does (a random guess when nothing is found)."""
    return _grade(item, Generated.answer_of(item))


@register_grader("mmlu-pro-chat")
def mmlu_pro_chat_grader(item: Mapping[str, Any], context: GraderContext) -> Verdict:
    """Grade as evaluate_from_api.py does: "**" removed from the response first."""
    return _grade(item, Generated.answer_of(item).replace("**", ""))
