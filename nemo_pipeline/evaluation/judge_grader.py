"""LLM-as-judge: parsing a judge model's verdicts, and the `judge` and `judge_pairwise` graders.

The judge runs as a second generation (prompts in `conf/prompt/judge/`) whose output the item carries in
`judge_generation`; grading here is pure parsing, never a request.

- Single-answer grading: the judge ends with a 1-10 rating such as "Rating: [[7]]". `parse_single_rating` reads
  it; the `judge` grader marks an answer correct when rating >= threshold (the item's `judge_threshold`, default
  `DEFAULT_THRESHOLD` = 7.0, "good" on the rubric of `conf/prompt/judge/single.yaml`). The benchmark's number is the
  mean `judge_rating` over the rated items; items whose judge output has no rating are kept, with
  `predicted = None`, reason "unparseable" and `judge_unparseable = 1.0`, so they show in the no-answer rate.
- Pairwise comparison: the judge ends with "[[A]]", "[[B]]" or "[[C]]" (tie); Arena-Hard's "[[A>>B]]" ... "[[B>>A]]"
  are read too. Each pair is judged twice, the second time with the answers swapped, and `combine_swapped` keeps a
  win only when both orders agree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Literal

from nemo_pipeline.errors import DataError
from nemo_pipeline.evaluation.graders import GraderContext, Verdict, register_grader

__all__ = [
    "DEFAULT_THRESHOLD",
    "RATING_MAX",
    "RATING_MIN",
    "PairwiseVerdict",
    "combine_swapped",
    "grade_judge",
    "grade_judge_pairwise",
    "pairwise_score",
    "parse_pairwise",
    "parse_single_rating",
]

RATING_MIN = 1.0
RATING_MAX = 10.0
DEFAULT_THRESHOLD = 7.0

PairwiseVerdict = Literal["A", "B", "tie"]

_NUM = r"(\d{1,3}(?:\.\d+)?)"
# A number that is the start of a range ("1-10", "1 to 10") is a scale, not a rating.
_NOT_RANGE = r"(?!\s*(?:-|–|to)\s*\d)"
_DOUBLE = re.compile(r"\[\[\s*" + _NUM + r"\s*(?:/\s*(\d+)\s*)?\]\]")
_LABELLED = re.compile(
    r"(?i:\b(?:rating|score|grade)\b)\s*(?:\([^)]{0,40}\)\s*)?(?:[:=]|\bis\b|\bof\b)?\s*[\[(]?\s*"
    + _NUM
    + _NOT_RANGE
    + r"\s*(?:(?:/|(?i:out\s+of))\s*(\d+))?"
)
_OUT_OF = re.compile(r"(?<![\d.])" + _NUM + r"\s*(?:/|(?i:out\s+of))\s*10(?![\d.]\d)")
_SINGLE = re.compile(r"(?<!\[)\[\s*" + _NUM + r"\s*\](?!\])")


def _rating(value: str, scale: str | None) -> float | None:
    if scale is not None and scale != "10":
        return None
    rating = float(value)
    return rating if RATING_MIN <= rating <= RATING_MAX and math.isfinite(rating) else None


def _clean(text: str) -> str:
    """Drop markdown emphasis and code marks, and squeeze whitespace runs to one space, which also keeps every
    `\\s*` in the patterns to at most one character (no slow backtracking on long blank runs)."""
    return " ".join(text.replace("*", "").replace("`", "").split())


def parse_single_rating(text: str | None) -> float | None:
    """The 1-10 rating in a judge's output, or None when there is none.

    Looked for in this order, the last match of the first kind found deciding: "[[7]]" / "[[7.5]]" (the format the
    prompts ask for); a labelled number ("Rating: 7", "Score: 7/10", "**Grade**: 8 out of 10"); "7/10" or
    "7 out of 10" anywhere; "[7]". A rating outside 1-10, or on another scale ("4/5", "85/100"), is None, as are
    scale descriptions ("a score of 1-10") and placeholders ("[[rating]]").
    """
    if not text:
        return None
    clean = _clean(text)
    for pattern in (_DOUBLE, _LABELLED, _OUT_OF, _SINGLE):
        matches = list(pattern.finditer(clean))
        if matches:
            last = matches[-1]
            return _rating(last.group(1), last.group(2) if pattern.groups > 1 else None)
    return None


_PAIR_BRACKETS = re.compile(
    r"\[\[\s*(A\s*(?:>>|>|=|<<|<)\s*B|B\s*(?:>>|>|=|<<|<)\s*A|[ABC]|(?i:tie))\s*\]\]", flags=re.IGNORECASE
)
_PAIR_LABELLED = re.compile(
    r"(?i:\bverdict\b)\s*(?:(?i:is)\s*)?[:\-]?\s*[\"']?\s*(?:(?i:that)\s+)?(?:(?i:assistant|model|answer|response)\s+)?"
    r"(?:(?i:a)\s+(?=(?i:tie)))?"
    r"\b(A|B|C|(?i:tie))\b(?!\s*(?:>|<|=))"
)


def _pair_token(token: str) -> PairwiseVerdict:
    compact = re.sub(r"\s+", "", token).upper()
    if compact in ("A", "A>B", "A>>B", "B<A", "B<<A"):
        return "A"
    if compact in ("B", "B>A", "B>>A", "A<B", "A<<B"):
        return "B"
    return "tie"  # C, TIE, A=B, B=A


def parse_pairwise(text: str | None) -> PairwiseVerdict | None:
    """The pairwise verdict in a judge's output: "A", "B", "tie", or None when there is none.

    Reads "[[A]]", "[[B]]", "[[C]]" (tie) and Arena-Hard's "[[A>>B]]", "[[A>B]]", "[[A=B]]", "[[B>A]]",
    "[[B>>A]]" (strength is dropped); the last one counts, since judges often quote the format before deciding.
    Without brackets, "Final verdict: B" / "verdict: Assistant A" / "verdict: tie" is read.
    """
    if not text:
        return None
    clean = _clean(text)
    matches = list(_PAIR_BRACKETS.finditer(clean)) or list(_PAIR_LABELLED.finditer(clean))
    return _pair_token(matches[-1].group(1)) if matches else None


def combine_swapped(first: PairwiseVerdict | None, swapped: PairwiseVerdict | None) -> str:
    """Combine the verdicts of the two orders: `first` judged (A = answer 1, B = answer 2), `swapped` judged the same
    pair with the answers exchanged (A = answer 2, B = answer 1). The result speaks of the first order:

    - "A" or "B": that answer won in both orders; "tie": both orders called it a tie;
    - "inconsistent": the orders disagree (the winner depended on position, or one order called a tie);
      count it as a tie in win rates (`pairwise_score` does);
    - "unparseable": either verdict is missing.
    """
    if first is None or swapped is None:
        return "unparseable"
    unswapped = {"A": "B", "B": "A", "tie": "tie"}[swapped]
    return first if first == unswapped else "inconsistent"


def pairwise_score(combined: str) -> float | None:
    """Score of answer A from `combine_swapped`'s result: 1 for a win, 0 for a loss, 0.5 for tie or inconsistent,
    None for unparseable."""
    return {"A": 1.0, "B": 0.0, "tie": 0.5, "inconsistent": 0.5}.get(combined)


def _judge_outputs(item: Mapping[str, Any], key: str) -> list[str | None]:
    if key not in item:
        raise DataError(
            f"item {item.get('id')!r} has no '{key}': run the judge generation (prompts in conf/prompt/judge/) "
            "before grading with a judge grader"
        )
    value = item[key]
    if value is None or isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(v is None or isinstance(v, str) for v in value):
        return list(value)
    raise DataError(f"item {item.get('id')!r}: '{key}' must be a string or a list of strings, got {value!r}")


@register_grader("judge", judge="single")
def grade_judge(item: Mapping[str, Any], context: GraderContext | None = None) -> Verdict:
    """Grade from the judge's rating in `judge_generation` (one string, or one per turn: their mean is the rating).

    correct = rating >= `judge_threshold` (default 7.0); predicted = the rating as text, or None when any output
    has no rating (reason "unparseable"); scores = {"judge_rating": r, "judge_unparseable": 0.0} (per turn also
    "judge_rating_turn<k>"), or {"judge_unparseable": 1.0}.
    """
    outputs = _judge_outputs(item, "judge_generation")
    threshold = float(item.get("judge_threshold", DEFAULT_THRESHOLD))
    ratings = [parse_single_rating(o) for o in outputs]
    if any(r is None for r in ratings):
        missing = [str(k + 1) for k, r in enumerate(ratings) if r is None]
        reason = "unparseable" if len(outputs) == 1 else f"unparseable (turn {', '.join(missing)})"
        return Verdict(correct=False, predicted=None, reason=reason, scores={"judge_unparseable": 1.0})
    rated = [r for r in ratings if r is not None]
    rating = sum(rated) / len(rated)
    scores = {"judge_rating": rating, "judge_unparseable": 0.0}
    if len(rated) > 1:
        scores.update({f"judge_rating_turn{k + 1}": r for k, r in enumerate(rated)})
    relation = ">=" if rating >= threshold else "<"
    return Verdict(
        correct=rating >= threshold,
        predicted=f"{rating:g}",
        reason=f"rating {rating:g} {relation} threshold {threshold:g}",
        scores=scores,
    )


@register_grader("judge_pairwise", judge="pairwise")
def grade_judge_pairwise(item: Mapping[str, Any], context: GraderContext | None = None) -> Verdict:
    """Grade a pairwise comparison where the graded answer was shown as A in `judge_generation` and as B in
    `judge_generation_swapped`. correct = it won in both orders; predicted = `combine_swapped`'s result (None when
    unparseable); scores = {"judge_win": 1 / 0.5 / 0} or {"judge_unparseable": 1.0}."""
    (first,) = _judge_outputs(item, "judge_generation")[:1]
    (second,) = _judge_outputs(item, "judge_generation_swapped")[:1]
    combined = combine_swapped(parse_pairwise(first), parse_pairwise(second))
    score = pairwise_score(combined)
    if score is None:
        return Verdict(correct=False, predicted=None, reason="unparseable", scores={"judge_unparseable": 1.0})
    return Verdict(
        correct=combined == "A",
        predicted=combined,
        reason=f"pairwise: {combined}",
        scores={"judge_win": score, "judge_unparseable": 0.0},
    )
