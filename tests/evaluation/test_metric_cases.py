"""Metric cases from JSON files (one per metrics function), run by one generic test."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nemo_pipeline import errors
from nemo_pipeline.evaluation import metrics

CASES_DIR = Path(__file__).parent / "cases"
CASES = [
    (path.stem, n, json.loads(path.read_text(encoding="utf-8"))["function"], case)
    for path in sorted(CASES_DIR.glob("*.json"))
    for n, case in enumerate(json.loads(path.read_text(encoding="utf-8"))["cases"])
]


def _convert_args(function: str, args: list[Any]) -> list[Any]:
    if function == "compute_metrics":
        records = {None if key == "greedy" else int(key): value for key, value in args[0].items()}
        return [records, *args[1:]]
    if function == "majority_at_k":
        return [[tuple(sample) for sample in args[0]], *args[1:]]
    return args


def _approx(expected: Any) -> Any:
    if isinstance(expected, dict):
        return {key: _approx(value) for key, value in expected.items()}
    if isinstance(expected, list):
        return pytest.approx(expected, rel=1e-9, abs=1e-12)
    if isinstance(expected, float):
        return pytest.approx(expected, rel=1e-9, abs=1e-12)
    return expected


def test_every_metric_file_has_cases() -> None:
    assert {stem for stem, *_ in CASES} >= {"pass_at_k", "majority_at_k", "mean_std_err", "compute_metrics"}


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("stem", "n", "function", "case"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_metric_case(stem: str, n: int, function: str, case: dict[str, Any]) -> None:
    fn = getattr(metrics, function)
    args = _convert_args(function, case["args"])
    kwargs = case.get("kwargs", {})
    if "raises" in case:
        exc_type = getattr(errors, case["raises"], None) or __builtins__[case["raises"]]  # type: ignore[index]
        with pytest.raises(exc_type):
            fn(*args, **kwargs)
        return
    result = fn(*args, **kwargs)
    if isinstance(result, tuple):
        result = list(result)
    assert result == _approx(case["expected"])
    if function == "compute_metrics":  # exactly the metrics.json keys, in a stable order
        assert list(result) == ["benchmark", "num_seeds", "metrics"]
        assert list(result["metrics"]) == list(case["expected"]["metrics"])
        for name, block in result["metrics"].items():
            assert list(block) == list(case["expected"]["metrics"][name]), name
