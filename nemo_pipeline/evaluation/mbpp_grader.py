"""MBPP's code graders: the official `mbpp` grader and the opt-in `mbpp-extract` variant.

`mbpp` follows bigcode-evaluation-harness's `mbpp` task (the protocol behind most published pass@1 numbers): the
prompt is the item's `prompt` (built by the loader: a docstring holding the task text and its first test), the
completion is cut at the first of the task's stop words, and the program `prompt + completion + "\\n" + tests` is
run with the references' execution semantics and 3 s limit (`_code_run`), where `tests` is the item's
`test_setup_code` (bigcode leaves it out, google-research's README runs it first; empty for the items we checked)
followed by its `test_list` asserts.

`mbpp-extract` (for chat models, with conf/prompt/generic/codegen-chat): the last ```python block of the answer
(else the raw text) + "\\n" + tests, same semantics and limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nemo_pipeline.evaluation._code_run import REFERENCE_TIMEOUT_S, require_sandbox, run_check
from nemo_pipeline.evaluation.code_grader import cut_at_stop, extract_code
from nemo_pipeline.evaluation.graders import GraderContext, Verdict, register_grader
from nemo_pipeline.records import Generated

__all__ = ["MBPP_STOP", "build_mbpp_program", "mbpp_extract_grader", "mbpp_grader", "mbpp_tests"]

# bigcode-evaluation-harness bigcode_eval/tasks/mbpp.py stop words (also conf/prompt/generic/mbpp.yaml's `stop`).
MBPP_STOP = ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n<|/", "\n```")


def mbpp_tests(item: Mapping[str, Any]) -> str:
    """The test code run after the model's code: the setup code (when there is any), then the asserts."""
    if "test_list" not in item:
        raise KeyError(f"item {item.get('id', '?')!r} has no 'test_list'; MBPP items need test_list")
    setup = str(item.get("test_setup_code") or "")
    asserts = "\n".join(str(test) for test in item["test_list"])
    return f"{setup}\n{asserts}" if setup.strip() else asserts


def build_mbpp_program(item: Mapping[str, Any], completion: str) -> str:
    """bigcode's check program: prompt + completion (cut at the stop words) + "\\n" + tests."""
    return str(item.get("prompt", "")) + cut_at_stop(completion, MBPP_STOP) + "\n" + mbpp_tests(item)


@register_grader("mbpp", needs_sandbox=True)
def mbpp_grader(item: Mapping[str, Any], context: GraderContext) -> Verdict:
    """MBPP's official protocol (bigcode-evaluation-harness `mbpp`); see the module docstring."""
    url = require_sandbox(context.sandbox_url, "mbpp")
    completion = cut_at_stop(Generated.answer_of(item), MBPP_STOP)
    result = run_check(url, build_mbpp_program(item, completion), REFERENCE_TIMEOUT_S)
    return Verdict(correct=result.passed, predicted=completion if completion.strip() else None, reason=result.reason)


@register_grader("mbpp-extract", needs_sandbox=True)
def mbpp_extract_grader(item: Mapping[str, Any], context: GraderContext) -> Verdict:
    """Our variant for chat answers: the extracted code + "\\n" + tests, 3 s."""
    url = require_sandbox(context.sandbox_url, "mbpp-extract")
    code = extract_code(Generated.answer_of(item))
    if code is None:
        return Verdict(correct=False, predicted=None, reason="no_code")
    result = run_check(url, code + "\n" + mbpp_tests(item), REFERENCE_TIMEOUT_S)
    return Verdict(correct=result.passed, predicted=code, reason=result.reason)
