"""AIME 2024 (parts I and II, 30 problems with integer answers 0-999), beside aime25: math grader, pass@k over
seeds. No offline source carries it: the user puts the official problems file in place (JSON Lines or parquet)."""

from __future__ import annotations

import re
from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, register_benchmark
from nemo_pipeline.datasets._formats import read_records
from nemo_pipeline.datasets._source import UserFile
from nemo_pipeline.datasets.benchmarks.aime25 import official_answer
from nemo_pipeline.errors import DataError

SOURCE = UserFile(
    benchmark="aime24",
    filenames=("aime_2024.jsonl", "train.parquet", "aime_2024_problems.parquet"),
    official_url="https://huggingface.co/datasets/HuggingFaceH4/aime_2024 (data/train-00000-of-00001.parquet, "
    "saved as train.parquet; problems from artofproblemsolving.com/wiki 2024 AIME I and II)",
    license="problems (c) Mathematical Association of America; MIT-licensed compilation (HuggingFaceH4/aime_2024)",
    how_to="A .jsonl with one {problem, answer, url or id} object per line works too (save it as aime_2024.jsonl).",
)
# "2024_AIME_I_Problems/Problem_1" (AoPS url), "2024-I-1" (ID): part and number.
_PART = re.compile(r"2024[_-](?:AIME[_-])?(I{1,2})(?:_Problems/Problem_|-)(\d+)")


def load(source: UserFile) -> list[dict[str, Any]]:
    """One item per problem, ids `aime24-I-01` .. `aime24-II-15`; the part is the subset."""
    path = source.path()
    records = []
    for index, row in enumerate(read_records(path)):
        lower = {str(k).lower(): v for k, v in row.items()}
        if "problem" not in lower or "answer" not in lower:
            raise DataError(f"{path}: record {index + 1} lacks problem or answer (fields: {sorted(row)})")
        where = " ".join(str(lower.get(k, "")) for k in ("url", "id"))
        match = _PART.search(where)
        if match is None:
            raise DataError(f"{path}: record {index + 1}: no 2024 AIME I/II problem number in url or id ({where!r})")
        part, number = match.group(1), int(match.group(2))
        records.append(
            {
                "id": f"aime24-{part}-{number:02d}",
                "problem": str(lower["problem"]),
                "expected_answer": official_answer(str(lower["answer"])),
                "subset": f"aime2024-{part}",
            }
        )
    return sorted(records, key=lambda r: (len(r["subset"]), r["id"]))


register_benchmark(
    Benchmark(
        name="aime24",
        description="AIME 2024 I and II: 30 competition problems with integer answers",
        source=SOURCE,
        load=load,
        grader="math",
        prompt_config="generic/math",
        num_items=30,
        tokens_to_generate=4096,
    )
)
