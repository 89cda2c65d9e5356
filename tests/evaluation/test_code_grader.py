"""HumanEval's code graders: the official `code` grader (openai/human-eval's program and execution semantics) and
the opt-in `code-extract` variant, on rows and on real runs against a real sandbox (and one that fails)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nemo_pipeline.errors import SandboxError
from nemo_pipeline.evaluation.code_grader import (
    HUMANEVAL_STOP,
    build_extract_program,
    build_program,
    code_extract_grader,
    code_grader,
    cut_at_stop,
    extract_code,
)
from nemo_pipeline.evaluation.graders import GRADERS, GraderContext
from nemo_pipeline.evaluation.metrics import is_grader_error
from nemo_pipeline.inference.prompts import load_prompt
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

STOP_ROWS = [
    ("    return sum(xs)\n", "    return sum(xs)\n"),
    ("    return sum(xs)\n\ndef main():\n    pass\n", "    return sum(xs)\n"),
    ("    return sum(xs)\n\n\nif __name__ == '__main__':\n    main()\n", "    return sum(xs)\n\n"),
    ("    if xs:\n        return sum(xs)\n    return 0\n#x", "    if xs:\n        return sum(xs)\n    return 0"),
    ("    return sum(xs)\nprint(add_all([1]))", "    return sum(xs)"),
    ("    return sum(xs)\nclass A: pass", "    return sum(xs)"),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("generation", "expected"), EXTRACTION_ROWS)
def test_extract_code(generation: str, expected: str | None) -> None:
    assert extract_code(generation, "add_all") == expected


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("completion", "expected"), STOP_ROWS)
def test_cut_at_the_codex_stop_sequences(completion: str, expected: str) -> None:
    assert cut_at_stop(completion, HUMANEVAL_STOP) == expected


@pytest.mark.timeout(10)
def test_the_prompt_stops_where_the_grader_cuts() -> None:
    prompt = load_prompt("generic/codegen")
    assert prompt.mode == "completion" and prompt.stop == HUMANEVAL_STOP
    assert prompt.render(dict(ITEM)) == ITEM["prompt"]  # the raw prompt, as human-eval's samples are made


@pytest.mark.timeout(10)
def test_official_program_is_human_evals() -> None:
    program = build_program(ITEM, "    return sum(xs)\n")
    assert program == ITEM["prompt"] + "    return sum(xs)\n" + "\n" + ITEM["test"] + "\n" + "check(add_all)"


@pytest.mark.timeout(10)
def test_extract_program_drops_demo_code_and_calls_check() -> None:
    code = "def add_all(xs):\n    return sum(xs)\n\nprint(add_all([1]))\nassert add_all([1]) == 99\n"
    program = build_extract_program(ITEM, code)
    assert "print(add_all" not in program and "== 99" not in program
    assert program.startswith("from typing import List") and program.rstrip().endswith("check(add_all)")


@pytest.fixture(scope="module")
def context() -> Iterator[GraderContext]:
    with LocalSandbox(workers=2) as sandbox:
        yield GraderContext(sandbox_url=sandbox.url, timeout_s=10.0)


OFFICIAL_CASES = [
    ("    return sum(xs)\n", True, "passed"),
    ("    return sum(xs)\n\ndef helper():\n    raise ValueError\nhelper()\n", True, "passed"),  # cut at "\ndef"
    ("    return len(xs)\n", False, "failed: AssertionError: "),
    ("    while True:\n        pass\n", False, "timeout"),
    ("    return sum(xs\n", False, "failed: SyntaxError"),
    ("    raise SystemExit(0)\n", False, "failed: SystemExit: 0"),  # human-eval: any BaseException fails
    ("    import os\n    os._exit(0)\n", False, "failed: the program ended before reporting"),
    ("    return sum(xs) + int(input() or 0)\n", False, "failed: OSError"),
    # A whole fenced function is not a completion: human-eval fails it (code-extract passes it, below).
    ("```python\ndef add_all(xs):\n    return sum(xs)\n```", False, "failed: SyntaxError"),
]  # fmt: skip


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("generation", "correct", "reason"), OFFICIAL_CASES)
def test_official_grader_against_a_real_sandbox(
    context: GraderContext, generation: str, correct: bool, reason: str
) -> None:
    verdict = GRADERS.get("code")({**ITEM, "generation": generation}, context)
    assert (verdict.correct, verdict.reason.startswith(reason)) == (correct, True), verdict.reason
    assert verdict.predicted == cut_at_stop(generation, HUMANEVAL_STOP)


EXTRACT_CASES = [
    ("    return sum(xs)\n", True, "passed"),
    ("```python\ndef add_all(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n```", True,
     "passed"),
    ("```python\ndef add_all(xs):\n    return sum(xs)\n\nprint(add_all([1]))\nassert add_all([1]) == 9\n```", True,
     "passed"),  # demo code dropped
    ("    return len(xs)\n", False, "failed: AssertionError"),
    ("```python\ndef add_all(xs):\n    while True:\n        pass\n```", False, "timeout"),
]  # fmt: skip


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("generation", "correct", "reason"), EXTRACT_CASES)
def test_extract_variant_against_a_real_sandbox(
    context: GraderContext, generation: str, correct: bool, reason: str
) -> None:
    verdict = GRADERS.get("code-extract")({**ITEM, "generation": generation}, context)
    assert (verdict.correct, verdict.reason.startswith(reason)) == (correct, True), verdict.reason
    assert verdict.predicted == extract_code(generation, "add_all")


@pytest.mark.timeout(30)
def test_empty_answers(context: GraderContext) -> None:
    verdict = code_extract_grader({**ITEM, "generation": ""}, context)
    assert (verdict.correct, verdict.predicted, verdict.reason) == (False, None, "no_code")
    verdict = code_grader({**ITEM, "generation": ""}, context)  # human-eval runs it (the body is the docstring)
    assert (verdict.correct, verdict.predicted, verdict.reason) == (False, None, "failed: AssertionError: ")


@pytest.mark.timeout(30)
def test_missing_sandbox_is_an_error() -> None:
    for grader in (code_grader, code_extract_grader):
        with pytest.raises(SandboxError, match="sandbox"):
            grader({**ITEM, "generation": "    return 1\n"}, GraderContext(sandbox_url=None))


@pytest.mark.timeout(30)
@pytest.mark.parametrize("name", ["code", "code-extract", "mbpp", "mbpp-extract"])
def test_a_sandbox_failure_is_a_grader_error_not_a_wrong_answer(failing_sandbox: str, name: str) -> None:
    item = {**ITEM, "test_list": ["assert add_all([1]) == 1"], "generation": "    return sum(xs)\n"}
    verdict = GRADERS.get(name)(item, GraderContext(sandbox_url=failing_sandbox))
    assert verdict.correct is False
    assert verdict.reason == "sandbox_error: sandbox could not start: boom" and is_grader_error(verdict.reason)
