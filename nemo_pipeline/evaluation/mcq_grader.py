"""Multiple-choice grading: find the chosen letter in a generation and compare it with the expected letter.

Item fields: `generation`, `expected_answer` (a letter, "(B)" and "b" accepted; or the text of an option), and the
options as `options: {"A": "...", ...}` or `choices: ["...", ...]` (letters A, B, ... in order). Without options the
letters A-J are valid.

Extraction order (first hit wins; only valid letters count):
1. the last `\\boxed{...}`: a letter ("B", "(B)", "B. text") or the text of an option;
2. the last anchored answer: "answer is (B)", "Answer: B", "answer: B.", "final answer is B" (any case for
   "answer"; the letter must be upper case unless it is in parentheses);
3. the text after the last "answer is" / "Answer:" equal to an option's text (case and spacing ignored);
4. the last "(B)" in the text;
5. a line that starts with "B." / "B)" / "B:" or is only the letter;
6. the whole generation equal to one option's text.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

from nemo_pipeline.evaluation.graders import GraderContext, Verdict, register_grader
from nemo_pipeline.evaluation.math_grader import _last_boxed
from nemo_pipeline.records import Generated

__all__ = ["extract_choice", "mcq_grader", "option_letters"]

_ANCHOR = re.compile(
    r"answer(?:\s+is)?\s*[:=]?\s*(?:\*\*)?\s*(?:option\s+|choice\s+)?(?:\(([A-Za-z])\)|([A-Z])(?![A-Za-z0-9]))",
    re.IGNORECASE,
)
_ANCHOR_TEXT = re.compile(r"answer(?:\s+is)?\s*[:=]?\s*(.+)", re.IGNORECASE)
_PAREN = re.compile(r"\(([A-Z])\)")
_LINE = re.compile(r"^\s*\**([A-Z])(?:[.):]|\s*$)", re.MULTILINE)
_LETTER_ONLY = re.compile(r"^\s*\(?\s*([A-Za-z])\s*\)?\s*(?:[.:)]\s*(.*))?$", re.DOTALL)


def option_letters(item: Mapping[str, Any]) -> dict[str, str]:
    """{letter: option text} from `options` (dict) or `choices` (list); letters A-J with empty texts otherwise."""
    options = item.get("options")
    if isinstance(options, Mapping) and options:
        return {str(k).strip().upper(): str(v) for k, v in options.items()}
    choices = item.get("choices")
    if isinstance(choices, (list, tuple)) and choices:
        return {string.ascii_uppercase[i]: str(c) for i, c in enumerate(choices)}
    return {letter: "" for letter in "ABCDEFGHIJ"}


def _norm(text: str) -> str:
    text = re.sub(r"\\text\{([^{}]*)\}", r"\1", text)
    return re.sub(r"\s+", " ", text.replace("$", "")).strip().strip(".").strip().casefold()


def _by_text(text: str, options: Mapping[str, str]) -> str | None:
    wanted = _norm(text)
    hits = [letter for letter, option in options.items() if option and _norm(option) == wanted]
    return hits[0] if len(hits) == 1 else None


def _letter_of(text: str, options: Mapping[str, str]) -> str | None:
    """A letter from a short answer: "B", "(b)", "B. text", or an option's text."""
    m = _LETTER_ONLY.match(text)
    if m and m.group(1).upper() in options:
        return m.group(1).upper()
    return _by_text(text, options)


def extract_choice(generation: str, options: Mapping[str, str]) -> str | None:
    """The chosen letter (upper case) in `generation`, or None (order in the module docstring)."""
    if not generation or not generation.strip():
        return None
    boxed = _last_boxed(generation)
    if boxed:
        letter = _letter_of(boxed, options)
        if letter:
            return letter
    for m in reversed(list(_ANCHOR.finditer(generation))):
        letter = m.group(1) or m.group(2)
        if m.group(1) is None and letter.upper() != letter:
            continue
        if letter.upper() in options:
            return letter.upper()
    for m in reversed(list(_ANCHOR_TEXT.finditer(generation))):
        letter = _by_text(m.group(1).split("\n", 1)[0], options)
        if letter:
            return letter
    for m in reversed(list(_PAREN.finditer(generation))):
        if m.group(1) in options:
            return m.group(1)
    for m in reversed(list(_LINE.finditer(generation))):
        if m.group(1) in options:
            return m.group(1)
    return _by_text(generation, options)


def _expected_letter(expected: Any, options: Mapping[str, str]) -> str | None:
    if expected is None:
        return None
    return _letter_of(str(expected), options)


@register_grader("mcq")
def mcq_grader(item: Mapping[str, Any], context: GraderContext) -> Verdict:
    """Grade a multiple-choice generation against the expected letter."""
    options = option_letters(item)
    predicted = extract_choice(Generated.answer_of(item), options)
    if predicted is None:
        return Verdict(False, None, "no_answer")
    expected = _expected_letter(item.get("expected_answer"), options)
    if expected is None:
        return Verdict(False, predicted, f"bad_expected_answer: {item.get('expected_answer')!r} is not an option")
    correct = predicted == expected
    return Verdict(correct, predicted, "equivalent" if correct else "not_equivalent")


def _mcq_predicted(item: Mapping[str, Any]) -> str | None:
    return extract_choice(Generated.answer_of(item), option_letters(item))


mcq_grader.extract_predicted = _mcq_predicted  # type: ignore[attr-defined]
