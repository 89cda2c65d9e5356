"""MMLU-Pro test split: 12,032 questions with up to ten choices in 14 categories (user file)."""

from __future__ import annotations

from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, register_benchmark
from nemo_pipeline.datasets._formats import (
    LETTERS,
    mcq_options,
    options_text,
    read_records,
    require_fields,
    slug,
)
from nemo_pipeline.datasets._source import UserFile
from nemo_pipeline.errors import DataError

SOURCE = UserFile(
    benchmark="mmlu-pro",
    filenames=("test.jsonl", "test-00000-of-00001.parquet"),
    official_url="https://huggingface.co/datasets/TIGER-Lab/MMLU-Pro/tree/main/data, file test-00000-of-00001.parquet",
    license="MIT (TIGER-Lab/MMLU-Pro dataset card)",
    how_to="The parquet file needs pyarrow; or convert it once to JSON Lines named test.jsonl, e.g. "
    "`python -c \"import pandas as p; p.read_parquet('test-00000-of-00001.parquet')"
    ".to_json('test.jsonl', orient='records', lines=True)\"`.",
)
FIELDS = ("question_id", "question", "options", "answer", "answer_index", "category")


def load(source: UserFile) -> list[dict[str, Any]]:
    """Items with `options` {"A": ...} (up to "J"), `expected_answer` a letter; the category is the subset."""
    path = source.path()
    records = []
    for index, row in enumerate(read_records(path)):
        require_fields(path, index, row, FIELDS)
        choices = list(row["options"])
        answer = str(row["answer"]).strip()
        if answer not in LETTERS[: len(choices)] or LETTERS[int(row["answer_index"])] != answer:
            raise DataError(
                f"{path}: record {index + 1} (question_id {row['question_id']}): answer {answer!r} does not "
                f"match answer_index {row['answer_index']} of {len(choices)} options"
            )
        options = mcq_options(choices)
        records.append(
            {
                "id": f"mmlu-pro-{row['question_id']}",
                "problem": row["question"],
                "options": options,
                "options_text": options_text(options),
                "expected_answer": answer,
                "subset": slug(str(row["category"])),
                "src": row.get("src"),
            }
        )
    return records


register_benchmark(
    Benchmark(
        name="mmlu-pro",
        description="MMLU-Pro test split: harder multiple choice with up to ten options",
        source=SOURCE,
        load=load,
        grader="mcq",
        prompt_config="generic/mcq",
        num_items=12032,
        tokens_to_generate=2048,
    )
)
