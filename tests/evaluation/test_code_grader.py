"""The code grader: extraction rows, and real runs against a real sandbox (correct, wrong, hanging, no code)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nemo_pipeline.errors import SandboxError
from nemo_pipeline.evaluation.code_grader import build_program, code_grader, extract_code
from nemo_pipeline.evaluation.graders import GRADERS, GraderContext
from nemo_pipeline.sandbox import LocalSandbox

ITEM = {
    "id": "HumanEval/0",
    "prompt": 'from typing import List\n\n\ndef add_all(xs: List[int]) -> int:\n    """Sum of xs."""\n',
    "test": "def check(candidate):\n    assert candidate([1, 2, 3]) == 6\n    assert candidate([]) == 0\n",
    "entry_point": "add_all",
}

EXTRACTION_ROWS = [
    ("    return sum(xs)\n", "    return sum(xs)"),
    ("Here:\n```python\ndef add_all(xs):\n    return sum(xs)\n```\nDone.", "def add_all(xs):\n    return sum(xs)"),
    ("```python\nimport math\n```\n```python\ndef add_all(xs):\n    return 1\n```\n```python\nprint(1)\n```",
     "def add_all(xs):\n    return 1"),
    ("```py\n    return sum(xs)\n", "    return sum(xs)"),  # unterminated fence
    ("", None),
    ("   \n\n", None),
]  # fmt: skip


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("generation", "expected"), EXTRACTION_ROWS)
def test_extract_code(generation: str, expected: str | None) -> None:
    assert extract_code(generation, "add_all") == expected


@pytest.mark.timeout(10)
def test_program_drops_demo_code_and_calls_check() -> None:
    code = "def add_all(xs):\n    return sum(xs)\n\nprint(add_all([1]))\nassert add_all([1]) == 99\n"
    program = build_program(ITEM, code)
    assert "print(add_all" not in program and "== 99" not in program
    assert program.startswith("from typing import List") and program.rstrip().endswith("check(add_all)")


@pytest.fixture(scope="module")
def context() -> Iterator[GraderContext]:
    with LocalSandbox(workers=2) as sandbox:
        yield GraderContext(sandbox_url=sandbox.url, timeout_s=6.0)


CASES = [
    ("    return sum(xs)\n", True, "completed"),
    ("```python\ndef add_all(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n```", True,
     "completed"),
    ("    return len(xs)\n", False, "error"),
    ("```python\ndef add_all(xs):\n    while True:\n        pass\n```", False, "timeout"),
    ("    return sum(xs\n", False, "error"),
]  # fmt: skip


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("generation", "correct", "reason"), CASES)
def test_code_grader_against_a_real_sandbox(
    context: GraderContext, generation: str, correct: bool, reason: str
) -> None:
    verdict = GRADERS.get("code")({**ITEM, "generation": generation}, context)
    assert (verdict.correct, verdict.reason) == (correct, reason)
    assert verdict.predicted == extract_code(generation, "add_all")


@pytest.mark.timeout(30)
def test_no_code_is_no_answer(context: GraderContext) -> None:
    verdict = code_grader({**ITEM, "generation": ""}, context)
    assert (verdict.correct, verdict.predicted, verdict.reason) == (False, None, "no_code")


@pytest.mark.timeout(30)
def test_missing_sandbox_is_an_error() -> None:
    with pytest.raises(SandboxError, match="sandbox"):
        code_grader({**ITEM, "generation": "    return 1\n"}, GraderContext(sandbox_url=None))
