"""The package surface: graders register on import; optional grader modules are imported when present."""

from __future__ import annotations

import subprocess
import sys

import pytest

import nemo_pipeline.evaluation as evaluation


@pytest.mark.timeout(10)
def test_public_names_and_registration() -> None:
    for name in (
        "Verdict",
        "GraderContext",
        "GRADERS",
        "register_grader",
        "extract_answer",
        "is_equivalent",
        "grade_all",
        "pass_at_k",
        "majority_at_k",
        "compute_metrics",
    ):
        assert name in evaluation.__all__ and hasattr(evaluation, name)
    assert {"math", "mcq"} <= set(evaluation.GRADERS.names())


@pytest.mark.timeout(60)
def test_import_in_a_fresh_process_registers_graders() -> None:
    code = "import nemo_pipeline.evaluation as e; print(','.join(e.GRADERS.names()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=50, check=True)
    assert {"math", "mcq"} <= set(out.stdout.strip().split(","))


@pytest.mark.timeout(10)
def test_math_grader_reasons() -> None:
    grade = evaluation.GRADERS.get("math")
    ctx = evaluation.GraderContext()
    assert grade({"generation": "", "expected_answer": "3"}, ctx) == evaluation.Verdict(False, None, "no_answer")
    assert grade({"generation": "The answer is 3.", "expected_answer": "3"}, ctx) == evaluation.Verdict(
        True, "3", "equivalent"
    )
    assert grade({"generation": "#### 4", "expected_answer": "3"}, ctx) == evaluation.Verdict(
        False, "4", "not_equivalent"
    )
