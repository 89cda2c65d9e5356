"""MATH-500: the 500-problem test subset of MATH used by "Let's Verify Step by Step" (user file)."""

from __future__ import annotations

from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, register_benchmark
from nemo_pipeline.datasets._formats import read_records, require_fields
from nemo_pipeline.datasets._source import UserFile

SOURCE = UserFile(
    benchmark="math500",
    filenames=("test.jsonl",),
    official_url="https://huggingface.co/datasets/HuggingFaceH4/MATH-500/resolve/main/test.jsonl, "
    "the same file as prm800k/math_splits/test.jsonl in github.com/openai/prm800k",
    license="MIT (MATH, Hendrycks et al.; PRM800K split, OpenAI)",
)
FIELDS = ("problem", "solution", "answer", "subject", "level", "unique_id")


def load(source: UserFile) -> list[dict[str, Any]]:
    """Items from the official JSON Lines file; id from `unique_id` ("test/algebra/1.json" -> math500-algebra-1)."""
    path = source.path()
    records = []
    for index, row in enumerate(read_records(path)):
        require_fields(path, index, row, FIELDS)
        unique_id = str(row["unique_id"])
        stem = unique_id.removeprefix("test/").removesuffix(".json").replace("/", "-")
        records.append(
            {
                "id": f"math500-{stem}",
                "problem": row["problem"],
                "expected_answer": str(row["answer"]),
                "subset": str(row["subject"]),
                "level": row["level"],
                "unique_id": unique_id,
                "reference_solution": row["solution"],
            }
        )
    return records


register_benchmark(
    Benchmark(
        name="math500",
        description="MATH-500: competition math, answers in LaTeX, 7 subjects, levels 1-5",
        source=SOURCE,
        load=load,
        grader="math",
        prompt_config="generic/math",
        num_items=500,
        tokens_to_generate=2048,
    )
)
