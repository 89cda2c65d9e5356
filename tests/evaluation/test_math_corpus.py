"""The math grading corpus: one data file, one parametrized test.

Rows of tests/evaluation/cases/math_corpus.jsonl: {"op", "gold", "prediction", "expected"}:
- op "equiv":   is_equivalent(gold, prediction) == expected
- op "extract": extract_answer(prediction) == gold (null gold = no answer)
- op "grade":   the registered "math" grader on {"generation": prediction, "expected_answer": gold} gives
                Verdict.correct == expected
Every grading bug becomes a row.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nemo_pipeline.evaluation import GRADERS, GraderContext, extract_answer, is_equivalent

CORPUS = Path(__file__).parent / "cases" / "math_corpus.jsonl"
ROWS: list[dict[str, Any]] = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line]


def _row_id(row: dict[str, Any]) -> str:
    return f"{row['op']}:{row['gold']!r}|{row['prediction'][:40]!r}"


def test_corpus_is_large_enough() -> None:
    assert len(ROWS) >= 300
    assert {row["op"] for row in ROWS} == {"equiv", "extract", "grade"}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("row", ROWS, ids=[_row_id(r) for r in ROWS])
def test_math_corpus(row: dict[str, Any]) -> None:
    if row["op"] == "equiv":
        assert is_equivalent(row["gold"], row["prediction"]) is row["expected"]
        # equivalence is symmetric under our conventions (percent, tolerance, set/list order)
        assert is_equivalent(row["prediction"], row["gold"]) is row["expected"] or not row["prediction"]
    elif row["op"] == "extract":
        assert extract_answer(row["prediction"]) == row["gold"]
    else:
        verdict = GRADERS.get("math")(
            {"generation": row["prediction"], "expected_answer": row["gold"]}, GraderContext()
        )
        assert verdict.correct is row["expected"]
        assert verdict.predicted is not None or not row["expected"]
