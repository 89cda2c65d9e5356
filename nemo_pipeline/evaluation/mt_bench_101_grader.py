"""MT-Bench-101 judged and scored as OpenCompass does (the `mt-bench-101` grader and its judge protocol).

- Answers: each judged turn was answered after the dataset's golden history (`history_mode: golden`, see
  nemo_pipeline/inference/multiturn.py); `generations` holds them, None for turns that are not judged.
- Prompts (opencompass 0.5.4, datasets/subjective/mtbench101.py, read as data by `_opencompass`): the system
  message is the judge preamble + the task's rubric + the score-format note; the user message is the dialogue as
  "\\n\\n Human: ...\\n\\nAssistant: ..." over the golden turns, ending with the judged turn and the model's answer,
  and for MR and GR the golden dialogue (Python's rendering of its role/content list) as reference solution.
- Judge: the official example config's judge settings (temperature 0.8, at most 4096 tokens) unless
  `judge.temperature` / `judge.tokens_to_generate` are set.
- Rating: the first "[n]" (n an unsigned integer); a turn without one is dropped alone.
- Score (the summarizer's get_final_results): a dialogue's score is the minimum over its rated turns, a task's the
  mean over its dialogues, `mt_bench_101_score` the mean over the tasks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from nemo_pipeline.datasets.benchmarks.mt_bench_101 import mt_bench_101_texts
from nemo_pipeline.errors import DataError
from nemo_pipeline.evaluation._judge_protocol import JudgeProtocol, Messages
from nemo_pipeline.evaluation.graders import GraderContext, Verdict, register_grader
from nemo_pipeline.evaluation.metrics import AggregateHook
from nemo_pipeline.records import GradedLine

__all__ = [
    "OPENCOMPASS_JUDGE",
    "grade_mt_bench_101",
    "mt_bench_101_aggregate",
    "opencompass_rating",
    "render_mt_bench_101",
]

DIALOGUE_KEY = "mt_bench_101_dialogue"
RATED_KEY = "mt_bench_101_turns_rated"
GOOD_RATING = 7.0  # is_correct: the dialogue's score reaches it (a project figure; the benchmark score is the mean)

_RATING = re.compile(r"\[([0-9]+)\]")


def _task(record: Mapping[str, Any]) -> str:
    task = record.get("task", record.get("subset"))
    if not isinstance(task, str):
        raise DataError(f"item {record.get('id')!r} has no MT-Bench-101 'task'")
    return task


def _judged(record: Mapping[str, Any]) -> list[int]:
    judged = record.get("judged_turns")
    if not isinstance(judged, list) or not judged or not all(isinstance(k, int) for k in judged):
        raise DataError(f"item {record.get('id')!r} has no 'judged_turns'; prepare mt-bench-101 again")
    return judged


def render_mt_bench_101(record: Mapping[str, Any]) -> list[Messages]:
    """The judge chats (one per judged turn) OpenCompass's MT-Bench-101 evaluator sends for one dialogue."""
    rid = record.get("id")
    texts = mt_bench_101_texts()
    task = _task(record)
    system = texts.system_prompt(task)
    history = record.get("history")
    answers = record.get("generations")
    if not isinstance(history, list) or not all(
        isinstance(h, dict) and isinstance(h.get("user"), str) and isinstance(h.get("bot"), str) for h in history
    ):
        raise DataError(f"item {rid!r}: 'history' must be a list of {{user, bot}} strings")
    if not isinstance(answers, list) or len(answers) != len(history):
        raise DataError(f"item {rid!r} needs one entry of 'generations' per turn; run the generate stage first")
    template = texts.reference_template if task in texts.need_ref_tasks else texts.template
    chats = []
    for k in _judged(record):
        if not 0 <= k < len(history):
            raise DataError(f"item {rid!r}: judged turn {k} is not one of its {len(history)} turns")
        shown = "".join(f"\n\n Human: {h['user']}\n\nAssistant: {h['bot']}" for h in history[:k])
        shown += f"\n\n Human: {history[k]['user']}\n\nAssistant: "
        dialogue: list[dict[str, str]] = []
        for h in history[: k + 1]:
            dialogue.append({"role": "user", "content": h["user"]})
            if h["bot"]:
                dialogue.append({"role": "assistant", "content": h["bot"]})
        # Two steps, as OpenCompass fills it: the dataset's template with the prediction slot kept, then the slot.
        user = template.format(history=shown, prediction="{prediction}", ref_answer=dialogue)
        answer = answers[k] if isinstance(answers[k], str) else ""
        chats.append(
            [{"role": "system", "content": system}, {"role": "user", "content": user.replace("{prediction}", answer)}]
        )
    return chats


OPENCOMPASS_JUDGE = JudgeProtocol(grader="mt-bench-101", render=render_mt_bench_101, max_tokens=4096, temperature=0.8)


def opencompass_rating(text: str | None) -> int | None:
    """OpenCompass's MT-Bench-101 rating: the first "[n]" (an integer); None when there is none."""
    match = _RATING.search(text) if text else None
    return int(match.group(1)) if match else None


def grade_mt_bench_101(item: Mapping[str, Any], context: GraderContext | None = None) -> Verdict:
    """The dialogue's score: the minimum rating over its judged turns (unrated turns dropped). scores:
    `mt_bench_101_dialogue` (when any turn is rated) and `mt_bench_101_turns_rated`; predicted = the score as
    text, None when no turn is rated; correct = score >= 7 (a project figure)."""
    outputs = item.get("judge_generation")
    judged = _judged(item)
    if not isinstance(outputs, list) or len(outputs) != len(judged):
        raise DataError(
            f"item {item.get('id')!r}: 'judge_generation' must hold one output per judged turn ({len(judged)}), "
            f"got {outputs!r}; run the judge before grading"
        )
    ratings = [opencompass_rating(o if isinstance(o, str) else None) for o in outputs]
    rated = [r for r in ratings if r is not None]
    scores: dict[str, float] = {RATED_KEY: float(len(rated))}
    shown = ", ".join(f"turn {k + 1}: {'unparsed' if r is None else r}" for k, r in zip(judged, ratings, strict=True))
    if not rated:
        return Verdict(correct=False, predicted=None, reason=shown, scores=scores)
    score = min(rated)
    scores[DIALOGUE_KEY] = float(score)
    return Verdict(correct=score >= GOOD_RATING, predicted=str(score), reason=f"min of {shown}", scores=scores)


def mt_bench_101_aggregate(records: Sequence[GradedLine]) -> Mapping[str, float]:
    """The mean over tasks of each task's mean dialogue score (dialogues with no rated turn left out, as OpenCompass
    leaves them out), and `mt_bench_101_tasks`, the number of tasks that entered it."""
    by_task: dict[str, list[float]] = {}
    for record in records:
        scores = record.grading.scores
        if DIALOGUE_KEY in scores:
            by_task.setdefault(_task(record.line), []).append(scores[DIALOGUE_KEY])
    if not by_task:
        return {"mt_bench_101_tasks": 0.0}
    task_means = [sum(values) / len(values) for values in by_task.values()]
    return {"mt_bench_101_score": sum(task_means) / len(task_means), "mt_bench_101_tasks": float(len(by_task))}


# OpenCompass's judge protocol rates the turns; the aggregate is MT-Bench-101's score.
register_grader(
    "mt-bench-101",
    judge=OPENCOMPASS_JUDGE,
    aggregate=AggregateHook(RATED_KEY, mt_bench_101_aggregate, headline="mt_bench_101_score"),
)(grade_mt_bench_101)
