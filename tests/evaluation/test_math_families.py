"""Answer-equivalence families against math-verify alone, on tests/evaluation/cases/math_equiv_families.jsonl.

- Per family (and overall), our agreement with the expected verdicts is at least that of math-verify alone
  (parse + verify with defaults, the better of its raw and `$`-wrapped variants), computed here on the same cases.
- Every case is its own test row; a case marked `known_miss` is a strict xfail (fixing it fails the row until the
  mark goes). A case with `predicted` also checks the answer the grader reports.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nemo_pipeline.evaluation import GRADERS, GraderContext, grade_all
from nemo_pipeline.evaluation._math.agreement import Case, load_cases, math_verify_alone, ours, score

CASES = load_cases(Path(__file__).parent / "cases" / "math_equiv_families.jsonl")
FAMILIES = sorted({c.family for c in CASES})


@pytest.fixture(scope="module")
def table() -> dict:
    return score(CASES, {"ours": ours, **math_verify_alone})


def test_corpus_shape() -> None:
    assert len(CASES) >= 600
    assert sum(not c.expected for c in CASES) >= 150, "true negatives keep 'always equal' from winning"
    required = {"prose_delimiters", "text_units", "matrices", "multi_boxed", "separators", "sets_lists", "gold_prose",
                "leading_zeros", "choice_letters", "percent", "units", "nested_boxed", "intervals_sets", "fractions",
                "sqrt", "pi", "negative", "sci_notation", "gsm8k", "extraction"}  # fmt: skip
    assert required <= set(FAMILIES)
    for family in FAMILIES:
        assert any(not c.expected for c in CASES if c.family == family), family


@pytest.mark.timeout(600)
@pytest.mark.parametrize("family", [*FAMILIES, "ALL"])
def test_agreement_at_least_math_verify(table: dict, family: str) -> None:
    entry = table[family]
    reference = max(entry.rate(name) for name in math_verify_alone)
    assert entry.rate("ours") >= reference, (
        f"{family}: ours {entry.rate('ours'):.3f} < math-verify alone {reference:.3f} over {entry.cases} cases"
    )


def _param(case: Case) -> object:
    marks = [pytest.mark.xfail(strict=True, reason=case.known_miss)] if case.known_miss else []
    return pytest.param(case, marks=marks, id=f"{case.family}:{case.gold[:30]!r}|{case.prediction[:30]!r}")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case: Case) -> None:
    assert ours(case) is case.expected
    if case.predicted is not None:
        verdict = GRADERS.get("math")({"generation": case.prediction, "expected_answer": case.gold}, GraderContext())
        assert verdict.predicted == case.predicted


@pytest.mark.timeout(180)
def test_worker_pool_gives_the_in_process_verdicts() -> None:
    """math-verify runs inside the pool's worker processes (its SIGALRM timeouts off): same verdicts as in process."""
    picked = [c for c in CASES if c.family in ("matrices", "multi_boxed", "extraction", "equations", "expressions")]
    items = [{"generation": c.prediction, "expected_answer": c.gold} for c in picked]
    in_process = [GRADERS.get("math")(item, GraderContext()) for item in items]
    assert grade_all("math", items, GraderContext(), timeout_s=30.0, workers=2) == in_process
