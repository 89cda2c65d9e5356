"""Agreement of a grader with the expected verdicts of a case file, beside math-verify alone on the same cases.

A case is one JSON object per line: `{"op": "equiv"|"grade", "family", "gold", "prediction", "expected"}` and
optionally `predicted` (the answer the grader must report), `convention` (where our documented conventions differ
from math-verify's defaults) and `known_miss` (a reason). `equiv` compares two answers; `grade` grades a whole
generation against a gold answer.

"math-verify alone" is `parse` + `verify` with their defaults (timeouts off), in three variants, and the reference
is the best of them per family: `raw` parses each string as given; `raw_then_wrapped` retries an unreadable string
wrapped in `$...$`; `wrapped` wraps a bare answer (no `$`, `\\(`, `\\[` or box) in `$...$` first, as math-verify
expects LaTeX to be delimited.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nemo_pipeline.errors import DataError

__all__ = ["Case", "FamilyScore", "design", "load_cases", "math_verify_alone", "ours", "score"]


@dataclass(frozen=True)
class Case:
    op: str
    family: str
    gold: str
    prediction: str
    expected: bool
    predicted: str | None = None
    convention: str | None = None
    known_miss: str | None = None


def load_cases(path: Path) -> list[Case]:
    """Read a case file; a malformed line raises DataError naming the file and line."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            case = Case(**row)
        except (ValueError, TypeError) as exc:
            raise DataError(f"{path}:{number}: not a math case ({exc})") from exc
        if case.op not in ("equiv", "grade") or not isinstance(case.expected, bool):
            raise DataError(f"{path}:{number}: op must be equiv|grade and expected a bool")
        cases.append(case)
    return cases


def ours(case: Case) -> bool:
    """Our verdict: `is_equivalent` for an equiv case, the registered `math` grader for a grade case."""
    from nemo_pipeline.evaluation import GRADERS, GraderContext, is_equivalent

    if case.op == "grade":
        item = {"generation": case.prediction, "expected_answer": case.gold}
        return GRADERS.get("math")(item, GraderContext()).correct
    return is_equivalent(case.gold, case.prediction)


def design(name: str) -> Callable[[Case], bool]:
    """One of the math grader's DESIGNS ("ours_first", the one in use, or "mv_first") as an engine."""
    from nemo_pipeline.evaluation.math_grader import DESIGNS, grade_math

    equivalent = DESIGNS[name]

    def verdict(case: Case) -> bool:
        if case.op == "grade":
            return grade_math({"generation": case.prediction, "expected_answer": case.gold}, equivalent).correct
        return equivalent(case.gold, case.prediction)

    return verdict


def _raw(text: str) -> list[Any]:
    from math_verify import parse

    return list(parse(text, parsing_timeout=None))  # type: ignore[arg-type]


def _raw_then_wrapped(text: str) -> list[Any]:
    return _raw(text) or _raw(f"${text}$")


def _mv(parse: Callable[[str], list[Any]]) -> Callable[[Case], bool]:
    def verdict(case: Case) -> bool:
        from math_verify import verify

        logging.getLogger("math_verify").setLevel(logging.ERROR)
        try:
            return bool(verify(parse(case.gold), parse(case.prediction), timeout_seconds=None))  # type: ignore[arg-type]
        except Exception:
            return False

    return verdict


def _wrapped(text: str) -> list[Any]:
    from nemo_pipeline.evaluation._math.mv import mv_parse

    return mv_parse(text)


math_verify_alone: dict[str, Callable[[Case], bool]] = {
    "raw": _mv(_raw),
    "raw_then_wrapped": _mv(_raw_then_wrapped),
    "wrapped": _mv(_wrapped),
}


@dataclass
class FamilyScore:
    """Right answers per engine over one family's cases."""

    cases: int = 0
    right: dict[str, int] = field(default_factory=dict)

    def rate(self, engine: str) -> float:
        return self.right.get(engine, 0) / self.cases if self.cases else 0.0


def score(cases: Iterable[Case], engines: dict[str, Callable[[Case], bool]]) -> dict[str, FamilyScore]:
    """Agreement with the expected verdicts per family (and "ALL") for each engine."""
    table: dict[str, FamilyScore] = {}
    for case in cases:
        verdicts = {name: engine(case) for name, engine in engines.items()}
        for family in (case.family, "ALL"):
            entry = table.setdefault(family, FamilyScore())
            entry.cases += 1
            for name, verdict in verdicts.items():
                entry.right[name] = entry.right.get(name, 0) + (verdict == case.expected)
    return table
