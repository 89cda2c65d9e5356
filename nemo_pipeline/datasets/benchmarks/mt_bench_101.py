"""MT-Bench-101: 1388 multi-turn dialogues in 13 tasks, judged turn by turn (user file).

The official protocol is OpenCompass's (`opencompass` 0.5.4: datasets/subjective/mtbench101.py and
summarizers/subjective/mtbench101.py): for every judged turn the model answers that turn after the dataset's
golden history (the earlier turns with their reference `bot` answers); the first turn of six tasks is not judged;
the judge gets the task's rubric (and, for MR and GR, the golden dialogue as reference solution); the first `[n]`
in its output is the rating; a dialogue scores the minimum over its judged turns, a task the mean over its
dialogues, the benchmark the mean over the 13 tasks.
"""

from __future__ import annotations

from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, Reference, register_benchmark
from nemo_pipeline.datasets._formats import read_records, require_fields
from nemo_pipeline.datasets._source import UserFile
from nemo_pipeline.datasets.benchmarks._opencompass import MTBench101Texts, mt_bench_101_texts
from nemo_pipeline.errors import DataError

# The judge's texts (rubrics, prompts) come from OpenCompass's wheel, read by `_opencompass`; the grader asks here.
__all__ = ["FIELDS", "GOLDEN", "SKIP_FIRST_TASKS", "SOURCE", "MTBench101Texts", "mt_bench_101_texts"]

SOURCE = UserFile(
    benchmark="mt-bench-101",
    filenames=("mtbench101.jsonl",),
    official_url="https://github.com/mtbench101/mt-bench-101/raw/main/data/subjective/mtbench101.jsonl",
    license="not stated in the mt-bench-101 README; check the repository before redistributing",
)
FIELDS = ("task", "id", "history")
# OpenCompass's `skip_first_tasks` (opencompass 0.5.4, datasets/subjective/mtbench101.py): the first turn of these
# tasks is context only. A test checks this equals the pinned wheel's list.
SKIP_FIRST_TASKS = ("FR", "CR", "AR", "SA", "SC", "CM")
GOLDEN = "golden"  # `history_mode`: each judged turn is answered after the dataset's own earlier turns


def load(source: UserFile) -> list[dict[str, Any]]:
    """One item per dialogue: `turns` (user messages), `history` (the official user/bot pairs, the golden context),
    the task code (e.g. "CM", "SI") as subset, `judged_turns` (0-based turns the judge rates) and
    `history_mode` "golden"; the last user turn is the problem."""
    path = source.path()
    records = []
    for index, row in enumerate(read_records(path)):
        require_fields(path, index, row, FIELDS)
        history = row["history"]
        if not history or not all(
            isinstance(turn, dict) and isinstance(turn.get("user"), str) and isinstance(turn.get("bot"), str)
            for turn in history
        ):
            raise DataError(f"{path}: record {index + 1}: 'history' must be a non-empty list of {{user, bot}} strings")
        task = str(row["task"])
        first = 1 if task in SKIP_FIRST_TASKS else 0
        if len(history) <= first:
            raise DataError(f"{path}: record {index + 1}: task {task} needs at least {first + 1} turn(s)")
        records.append(
            {
                "id": f"mt-bench-101-{task}-{row['id']}",
                "problem": history[-1]["user"],
                "expected_answer": None,
                "turns": [turn["user"] for turn in history],
                "history": [{"user": turn["user"], "bot": turn["bot"]} for turn in history],
                "subset": task,
                "task": task,
                "dialogue_id": row["id"],
                "judged_turns": list(range(first, len(history))),
                "history_mode": GOLDEN,
            }
        )
    return records


register_benchmark(
    Benchmark(
        name="mt-bench-101",
        description="MT-Bench-101: fine-grained multi-turn dialogue abilities rated by a judge model",
        source=SOURCE,
        load=load,
        grader="mt-bench-101",
        prompt_config="generic/chat",
        num_items=1388,
        tokens_to_generate=1024,
        multi_turn=True,
        data_version=2,
        reference=Reference(
            repository="opencompass==0.5.4",
            commit="0.5.4",
            files=(
                "opencompass/datasets/subjective/mtbench101.py",
                "opencompass/summarizers/subjective/mtbench101.py",
                "opencompass/openicl/icl_inferencer/icl_chat_inferencer.py",
            ),
            protocol=(
                "each judged turn answered after the golden history (ChatInferencer infer_mode='last'); first turn "
                "not judged for FR, CR, AR, SA, SC, CM; judge prompt = preamble + task rubric + score format, the "
                "golden dialogue as reference solution for MR and GR; rating = first [n] (integer), unparsed turns "
                "dropped; dialogue = min over judged turns, task = mean over dialogues, headline "
                "mt_bench_101_score = mean over tasks (1-10)"
            ),
        ),
    )
)
