"""GSM8K scored as lm-evaluation-harness 0.4.13's `gsm8k` task (gsm8k.yaml): two filters over the response and
exact_match after both sides are normalized.

- strict-match: the first "#### N" (N made of digits, ".", ","; an optional leading "-");
- flexible-extract: the last number-like run (two or more of digits, "$", ".", ","; or a single digit);
- exact_match: ",", "$", everything up to "#### " and a final "." removed, then case ignored, then string equality.

A response with no match is "[invalid]" there (never equal); here its `predicted` is None. The verdict is
strict-match (the task's headline); `scores` carry both, named as lm-eval's results name them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from nemo_pipeline.evaluation.graders import GraderContext, Verdict, register_grader
from nemo_pipeline.records import Generated

__all__ = ["FLEXIBLE", "STRICT", "flexible_extract", "gsm8k_grader", "normalize", "strict_match"]

STRICT = "exact_match,strict-match"
FLEXIBLE = "exact_match,flexible-extract"
_STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
_FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
_IGNORE = (re.compile(","), re.compile(r"\$"), re.compile(r"(?s).*#### "), re.compile(r"\.$"))


def strict_match(text: str) -> str | None:
    """The strict-match filter: the first "#### N" group, stripped; None where lm-eval gives "[invalid]"."""
    found = _STRICT.findall(text)
    return found[0].strip() if found else None


def flexible_extract(text: str) -> str | None:
    """The flexible-extract filter: the last match, its first non-empty group, stripped; None for "[invalid]"."""
    found = _FLEXIBLE.findall(text)
    if not found:
        return None
    groups = [group for group in found[-1] if group]
    return groups[0].strip() if groups else None


def normalize(text: str) -> str:
    """exact_match's normalization (regexes_to_ignore in order, then ignore_case)."""
    for pattern in _IGNORE:
        text = pattern.sub("", text)
    return text.lower()


def _matches(extracted: str | None, expected: str) -> bool:
    return extracted is not None and normalize(extracted) == normalize(expected)


@register_grader("gsm8k")
def gsm8k_grader(item: Mapping[str, Any], context: GraderContext) -> Verdict:
    """Grade a GSM8K response with lm-eval's strict-match (the verdict) and flexible-extract (a score)."""
    text = Generated.answer_of(item)
    expected = str(item.get("expected_answer") or "")
    strict, flexible = strict_match(text), flexible_extract(text)
    scores = {STRICT: float(_matches(strict, expected)), FLEXIBLE: float(_matches(flexible, expected))}
    if strict is None:
        return Verdict(False, None, "no_answer: no '#### N'", scores=scores)
    correct = _matches(strict, expected)
    return Verdict(correct, normalize(strict), "equivalent" if correct else "not_equivalent", scores=scores)
