"""The "code" grader: runs a HumanEval-style item's tests against the model's code in the sandbox.

Items carry `prompt` (signature and docstring), `test` (defines `check(candidate)`) and `entry_point`. The
generation is either a completion of the prompt's function body or a full function, bare or in a ```python block.
The program sent to the sandbox is prompt + code + test + `check(entry_point)`; it is correct iff it completes.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

from nemo_pipeline.errors import SandboxError
from nemo_pipeline.evaluation.graders import GraderContext, Verdict, register_grader

__all__ = ["build_program", "code_grader", "extract_code"]

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


def build_program(item: Mapping[str, Any], code: str) -> str:
    """prompt + the model's code (as a completion or a full function) + the tests + the call of `check`."""
    prompt = str(item.get("prompt", ""))
    entry_point = str(item["entry_point"])
    solution = prompt.rstrip() + "\n\n" + code + "\n" if _defines(code, entry_point) else prompt + code + "\n"
    return _keep_definitions(solution) + "\n" + str(item["test"]) + f"\n\ncheck({entry_point})\n"


@register_grader("code")
def code_grader(item: Mapping[str, Any], context: GraderContext) -> Verdict:
    """Grade one HumanEval-style item by running its tests in the sandbox at `context.sandbox_url`."""
    from nemo_pipeline.sandbox import SandboxClient

    if not context.sandbox_url:
        raise SandboxError(
            "the code grader needs a sandbox: pass its address (sandbox_url), or let the pipeline start one"
        )
    for field in ("test", "entry_point"):
        if field not in item:
            raise KeyError(f"item {item.get('id', '?')!r} has no {field!r}; code items need prompt, test, entry_point")
    code = extract_code(str(item.get("generation", "")), str(item["entry_point"]))
    if code is None:
        return Verdict(correct=False, predicted=None, reason="no_code")
    program = build_program(item, code)
    exec_timeout = max(1.0, context.timeout_s - 2.0)
    with SandboxClient(context.sandbox_url, margin_s=1.5) as client:
        result = client.execute(program, language="python", timeout=exec_timeout, max_output_characters=2000)
    return Verdict(correct=result.process_status == "completed", predicted=code, reason=result.process_status)
