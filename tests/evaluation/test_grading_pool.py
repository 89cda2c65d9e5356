"""grade_all: real worker processes, order kept, a pathological answer times out without stalling the rest."""

from __future__ import annotations

import time

import pytest

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.evaluation import GraderContext, Verdict, grade_all

# sympy.simplify on this difference runs for minutes (measured: killed after 30 s, still running).
PATHOLOGICAL_GOLD = r"(x+1)^{40}(y+2)^{40}+\sin(x)^{20}"
PATHOLOGICAL_PRED = r"(x+2)^{40}(y+1)^{40}+\cos(x)^{20}"


def _item(answer: str, gold: str) -> dict[str, str]:
    return {"generation": f"Work... the final result is \\boxed{{{answer}}}", "expected_answer": gold}


@pytest.mark.timeout(120)
def test_pathological_answer_times_out_and_the_rest_are_graded() -> None:
    items = [_item(str(n), str(n if n % 3 else n + 1)) for n in range(12)]
    items.insert(5, _item(PATHOLOGICAL_PRED, PATHOLOGICAL_GOLD))
    items.append({"generation": "I cannot solve this.", "expected_answer": "4"})
    start = time.monotonic()
    verdicts = grade_all("math", items, GraderContext(), timeout_s=3.0, workers=2)
    elapsed = time.monotonic() - start
    assert len(verdicts) == len(items)
    assert verdicts[5] == Verdict(False, PATHOLOGICAL_PRED, "timeout")
    plain = [v for i, v in enumerate(verdicts[:-1]) if i != 5]
    assert [v.predicted for v in plain] == [str(n) for n in range(12)]  # order kept
    assert [v.correct for v in plain] == [n % 3 != 0 for n in range(12)]
    assert verdicts[-1] == Verdict(False, None, "no_answer")
    assert elapsed < 30, f"one slow answer stalled the pool: {elapsed:.1f}s"


@pytest.mark.timeout(120)
def test_every_worker_stuck_then_replaced() -> None:
    slow = _item(PATHOLOGICAL_PRED, PATHOLOGICAL_GOLD)
    items = [slow, slow, _item("7", "7"), _item("8", "9")]
    verdicts = grade_all("math", items, GraderContext(), timeout_s=2.0, workers=2)
    assert [v.reason for v in verdicts] == ["timeout", "timeout", "equivalent", "not_equivalent"]
    assert [v.correct for v in verdicts] == [False, False, True, False]


@pytest.mark.timeout(60)
def test_mcq_through_the_pool_and_empty_input() -> None:
    items = [
        {"generation": "The answer is (B).", "expected_answer": "B", "choices": ["1", "2", "3", "4"]},
        {"generation": "Answer: C", "expected_answer": "B", "choices": ["1", "2", "3", "4"]},
    ]
    verdicts = grade_all("mcq", items, GraderContext(), timeout_s=10, workers=1)
    assert [(v.correct, v.predicted) for v in verdicts] == [(True, "B"), (False, "C")]
    assert grade_all("mcq", [], GraderContext(), timeout_s=10, workers=1) == []


@pytest.mark.timeout(30)
def test_bad_arguments_fail_before_starting_workers() -> None:
    with pytest.raises(ConfigError, match=r"Known: .*math"):
        grade_all("maths", [{}], GraderContext(), timeout_s=1, workers=1)
    with pytest.raises(ValueError, match="timeout_s"):
        grade_all("math", [{}], GraderContext(), timeout_s=0, workers=1)
    with pytest.raises(ValueError, match="workers"):
        grade_all("math", [{}], GraderContext(), timeout_s=1, workers=0)


@pytest.mark.timeout(60)
def test_a_grader_exception_is_a_verdict() -> None:
    # expected_answer of a type the grader cannot read still yields one verdict per item, in order
    items = [{"generation": "\\boxed{3}", "expected_answer": "3"}, {"generation": 17, "expected_answer": "17"}]
    verdicts = grade_all("math", items, GraderContext(), timeout_s=10, workers=1)
    assert verdicts[0].correct is True
    assert verdicts[1].correct is True and verdicts[1].predicted == "17"
