"""MBPP: the 500-problem test split (task ids 11-510) of Mostly Basic Python Problems (user file).

The default protocol is bigcode-evaluation-harness's `mbpp` task: the prompt is a docstring holding the task text and
its first test (`prompt`), the completion is cut at the task's stop words, and `prompt + completion + "\\n"` + the
asserts runs with 3 s; pass@1. The `chat` variant asks a chat model for a ```python block (the asserts as examples).
"""

from __future__ import annotations

from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, Reference, Variant, register_benchmark
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
REFERENCE = Reference(
    repository="bigcode-project/bigcode-evaluation-harness",
    commit="8fc5bae6479c4fbbb28c3f8b644f6a15b3f3b5bd",
    files=(
        "bigcode_eval/tasks/mbpp.py",
        "bigcode_eval/tasks/custom_metrics/code_eval.py",
        "bigcode_eval/tasks/custom_metrics/execute.py",
    ),
    protocol=(
        'zero-shot completion of \'"""\\n{text}\\n{test_list[0]}\\n"""\\n\', cut at its stop words; the program '
        'prompt + completion + "\\n" + the test asserts runs in a fresh interpreter, passing iff nothing raises '
        "within 3 s; an empty answer is run like any other; headline pass@1 (percent of the 500 items)"
    ),
)


def mbpp_prompt(text: str, first_test: str) -> str:
    """bigcode's MBPP prompt (InCoder style): a docstring with the task description and its first test."""
    return f'"""\n{text}\n{first_test}\n"""\n'


def load(source: UserFile) -> list[dict[str, Any]]:
    """Test-split items: `prompt` is bigcode's prompt; `test` is the setup code plus the asserts, run after the code."""
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
                "prompt": mbpp_prompt(str(row["text"]), tests[0] if tests else ""),
                "expected_answer": row["code"],
                "task_id": task_id,
                "test_list": tests,
                "test_setup_code": setup,
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
        grader="mbpp",
        prompt_config="generic/mbpp",
        num_items=500,
        tokens_to_generate=512,
        data_version=2,  # 2: `prompt` (bigcode's) and `test_setup_code`
        reference=REFERENCE,
        variants=(
            (
                "chat",
                Variant(
                    description="chat prompt with the task and its asserts; the answer's last ```python block "
                    "+ the asserts runs with 3 s",
                    prompt_config="generic/codegen-chat",
                    grader="mbpp-extract",
                ),
            ),
        ),
    )
)
