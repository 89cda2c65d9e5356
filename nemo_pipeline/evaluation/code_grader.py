"""HumanEval's code graders: the official `code` grader and the opt-in `code-extract` variant.

`code` follows openai/human-eval (execution.py, `check_correctness`): the program is
`prompt + completion + "\\n" + test + "\\n" + f"check({entry_point})"`, run with the reference's semantics and 3 s
limit (`_code_run`). The completion is the model's continuation of the prompt, cut at the first of the Codex paper's
stop sequences (what the generation stops at; a no-op when the server already stopped there, and it removes a stop
string that some servers return).

`code-extract` (our earlier protocol, for chat models that answer with a whole function in a fenced block): the last
python block (preferring one that defines `entry_point`), else the raw text; top-level statements other than imports,
definitions, assignments and `try` are dropped; 8 s (`grading.timeout_s` - 2).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

from nemo_pipeline.evaluation._code_run import REFERENCE_TIMEOUT_S, require_sandbox, run_check
from nemo_pipeline.evaluation.graders import GraderContext, Verdict, register_grader
from nemo_pipeline.records import Generated

__all__ = [
    "HUMANEVAL_STOP",
    "build_extract_program",
    "build_program",
    "code_extract_grader",
    "code_grader",
    "cut_at_stop",
    "extract_code",
]

# The stop sequences of the Codex paper (Chen et al. 2021, section 3.3), also conf/prompt/generic/codegen.yaml's.
HUMANEVAL_STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON_TAGS = {"", "python", "py", "python3"}
# Top-level statements a solution keeps; calls, prints, asserts and `if __name__ == "__main__":` demos are dropped.
_KEPT_NODES = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign,
               ast.AnnAssign, ast.Try)  # fmt: skip


def extract_code(generation: str, entry_point: str = "") -> str | None:
    """The model's code: the last python block (preferring one that defines `entry_point`), else the raw text.

    None when there is no code at all.
    """
    blocks = [body for tag, body in _FENCE.findall(generation) if tag.lower() in _PYTHON_TAGS]
    if blocks:
        defining = [b for b in blocks if entry_point and re.search(rf"^\s*def {re.escape(entry_point)}\s*\(", b, re.M)]
        code = (defining or blocks)[-1]
    else:
        code = generation
    code = code.rstrip()
    return code if code.strip() else None


def _defines(code: str, entry_point: str) -> bool:
    return bool(re.search(rf"^def {re.escape(entry_point)}\s*\(", code, re.MULTILINE))


def _keep_definitions(program: str) -> str:
    """Drop top-level demo code (calls, prints, asserts, __main__ blocks) when the program parses."""
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return program
    lines = program.splitlines()
    kept: list[str] = []
    for node in tree.body:
        if not isinstance(node, _KEPT_NODES) and not (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        ):
            continue
        first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
        kept.extend(lines[first - 1 : node.end_lineno])
    return "\n".join(kept) + "\n"


def cut_at_stop(text: str, stops: tuple[str, ...]) -> str:
    """`text` up to the first occurrence of any of `stops` (all of it when none occurs)."""
    cut = min((at for at in (text.find(stop) for stop in stops) if at >= 0), default=len(text))
    return text[:cut]


def build_program(item: Mapping[str, Any], completion: str) -> str:
    """human-eval's check program: prompt + completion + "\\n" + test + "\\n" + check(entry_point)."""
    return item["prompt"] + completion + "\n" + item["test"] + "\n" + f"check({item['entry_point']})"


def build_extract_program(item: Mapping[str, Any], code: str) -> str:
    """The code-extract program: prompt + the model's code (as a completion or a full function), demo code dropped,
    then the tests and the call of `check`."""
    prompt = str(item.get("prompt", ""))
    entry_point = str(item["entry_point"])
    solution = prompt.rstrip() + "\n\n" + code + "\n" if _defines(code, entry_point) else prompt + code + "\n"
    return _keep_definitions(solution) + "\n" + str(item["test"]) + f"\n\ncheck({entry_point})\n"


def _require(item: Mapping[str, Any], fields: tuple[str, ...]) -> None:
    missing = [name for name in fields if name not in item]
    if missing:
        raise KeyError(f"item {item.get('id', '?')!r} has no {missing[0]!r}; HumanEval-style items need {fields}")


@register_grader("code", needs_sandbox=True)
def code_grader(item: Mapping[str, Any], context: GraderContext) -> Verdict:
    """HumanEval's official protocol (openai/human-eval): run prompt + completion + test + check(entry_point)."""
    url = require_sandbox(context.sandbox_url, "code")
    _require(item, ("prompt", "test", "entry_point"))
    completion = cut_at_stop(Generated.answer_of(item), HUMANEVAL_STOP)
    result = run_check(url, build_program(item, completion), REFERENCE_TIMEOUT_S)
    return Verdict(correct=result.passed, predicted=completion if completion.strip() else None, reason=result.reason)


@register_grader("code-extract", needs_sandbox=True)
def code_extract_grader(item: Mapping[str, Any], context: GraderContext) -> Verdict:
    """Our variant for chat answers: the extracted code, demo statements dropped, 8 s; see the module docstring."""
    url = require_sandbox(context.sandbox_url, "code-extract")
    _require(item, ("test", "entry_point"))
    code = extract_code(Generated.answer_of(item), str(item["entry_point"]))
    if code is None:
        return Verdict(correct=False, predicted=None, reason="no_code")
    result = run_check(url, build_extract_program(item, code), max(1.0, context.timeout_s - 2.0))
    return Verdict(correct=result.passed, predicted=code, reason=result.reason)
