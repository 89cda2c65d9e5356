"""MT-Bench-101: 1388 multi-turn dialogues in 13 tasks, judged turn by turn (user file)."""

from __future__ import annotations

from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, register_benchmark
from nemo_pipeline.datasets._formats import read_records, require_fields
from nemo_pipeline.datasets._source import UserFile
from nemo_pipeline.errors import DataError

SOURCE = UserFile(
    benchmark="mt-bench-101",
    filenames=("mtbench101.jsonl",),
    official_url="https://github.com/mtbench101/mt-bench-101/raw/main/data/subjective/mtbench101.jsonl",
    license="not stated in the mt-bench-101 README; check the repository before redistributing",
)
FIELDS = ("task", "id", "history")


def load(source: UserFile) -> list[dict[str, Any]]:
    """One item per dialogue: `turns` (user messages), `history` (the official user/bot pairs, the bot turns
    being the golden context), the task code (e.g. "CM", "SI") as subset; the last user turn is the problem."""
    path = source.path()
    records = []
    for index, row in enumerate(read_records(path)):
        require_fields(path, index, row, FIELDS)
        history = row["history"]
        if not history or not all(isinstance(turn, dict) and "user" in turn and "bot" in turn for turn in history):
            raise DataError(f"{path}: record {index + 1}: 'history' must be a non-empty list of {{user, bot}}")
        task = str(row["task"])
        records.append(
            {
                "id": f"mt-bench-101-{task}-{row['id']}",
                "problem": history[-1]["user"],
                "expected_answer": None,
                "turns": [turn["user"] for turn in history],
                "history": [{"user": turn["user"], "bot": turn["bot"]} for turn in history],
                "subset": task,
            }
        )
    return records


register_benchmark(
    Benchmark(
        name="mt-bench-101",
        description="MT-Bench-101: fine-grained multi-turn dialogue abilities rated by a judge model",
        source=SOURCE,
        load=load,
        grader="judge",
        prompt_config="generic/chat",
        num_items=1388,
        tokens_to_generate=1024,
        multi_turn=True,
    )
)
