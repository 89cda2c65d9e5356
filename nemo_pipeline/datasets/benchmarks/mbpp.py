"""MBPP: the 500-problem test split (task ids 11-510) of Mostly Basic Python Problems (user file)."""

from __future__ import annotations

from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, register_benchmark
from nemo_pipeline.datasets._formats import read_records, require_fields
from nemo_pipeline.datasets._source import UserFile

SOURCE = UserFile(
    benchmark="mbpp",
    filenames=("mbpp.jsonl",),
    official_url="https://github.com/google-research/google-research/raw/master/mbpp/mbpp.jsonl",
    license="CC BY 4.0 (google-research/mbpp README)",
)
FIELDS = ("task_id", "text", "code", "test_list")
TEST_TASK_IDS = range(11, 511)  # the official test split of the full file (974 problems)


def load(source: UserFile) -> list[dict[str, Any]]:
    """Test-split items; `test` is the setup code plus the asserts, run after the generated code."""
    path = source.path()
    records = []
    for index, row in enumerate(read_records(path)):
        require_fields(path, index, row, FIELDS)
        task_id = int(row["task_id"])
        if task_id not in TEST_TASK_IDS:
            continue
        setup = str(row.get("test_setup_code") or "")
        tests = [str(test) for test in row["test_list"]]
        records.append(
            {
                "id": f"mbpp-{task_id:03d}",
                "problem": row["text"],
                "expected_answer": row["code"],
                "task_id": task_id,
                "test_list": tests,
                "tests_text": "\n".join(tests),
                "test": "\n".join([setup, *tests]).strip() + "\n",
                "challenge_test_list": list(row.get("challenge_test_list") or []),
                "needs_sandbox": True,
            }
        )
    return records


register_benchmark(
    Benchmark(
        name="mbpp",
        description="MBPP test split: short Python programs checked by three asserts",
        source=SOURCE,
        load=load,
        grader="code",
        prompt_config="generic/codegen-chat",
        num_items=500,
        tokens_to_generate=512,
        needs_sandbox=True,
    )
)
