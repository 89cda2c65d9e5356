"""The `ifeval` grader: checks every instruction of an item, strictly and loosely, and the IFEval aggregate.

An item carries `generation` (the response), `instruction_id_list` and `kwargs` (one dict per instruction).
`Verdict.correct` is prompt-level strict (every instruction followed by the response as given). `Verdict.scores`:

- `prompt_strict`, `prompt_loose`: 1.0 when every instruction is followed, else 0.0;
- `instruction_strict`, `instruction_loose`: the fraction of this item's instructions followed;
- `instructions_total`, `instructions_followed_strict`, `instructions_followed_loose`: the counts behind them.

The benchmark's instruction-level accuracy is total followed / total instructions over all items (a micro average),
not the mean of the per-item fractions: `ifeval_aggregate` computes the four official accuracies from the counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from nemo_pipeline.errors import DataError
from nemo_pipeline.evaluation.graders import GraderContext, Verdict, register_grader
from nemo_pipeline.evaluation.ifeval import follows_loose, follows_strict
from nemo_pipeline.evaluation.metrics import AggregateHook
from nemo_pipeline.records import GradedLine

__all__ = ["grade_ifeval", "ifeval_aggregate"]


def _instructions(item: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    ids = item.get("instruction_id_list")
    kwargs = item.get("kwargs")
    if not isinstance(ids, list) or not ids:
        raise DataError(
            f"ifeval item {item.get('id')!r} has no 'instruction_id_list' (got {ids!r}); prepare the data with the "
            "ifeval benchmark loader, which keeps it"
        )
    if kwargs is None:
        kwargs = [{} for _ in ids]
    if not isinstance(kwargs, list) or len(kwargs) != len(ids):
        raise DataError(
            f"ifeval item {item.get('id')!r}: 'kwargs' must be a list with one dict per instruction "
            f"({len(ids)}), got {kwargs!r}"
        )
    return [(str(i), k or {}) for i, k in zip(ids, kwargs, strict=True)]


def grade_ifeval(item: Mapping[str, Any], context: GraderContext | None = None) -> Verdict:
    """Grade one IFEval item. `predicted` is the strict follow list ("1,0,1") or None for an empty response;
    `reason` names the instructions not followed strictly."""
    instructions = _instructions(item)
    response = item.get("generation") or ""
    if not isinstance(response, str):
        raise DataError(f"ifeval item {item.get('id')!r}: 'generation' must be a string, got {type(response).__name__}")
    strict = [follows_strict(i, response, k) for i, k in instructions]
    loose = [s or follows_loose(i, response, k) for s, (i, k) in zip(strict, instructions, strict=True)]
    total = len(instructions)
    scores = {
        "prompt_strict": float(all(strict)),
        "prompt_loose": float(all(loose)),
        "instruction_strict": sum(strict) / total,
        "instruction_loose": sum(loose) / total,
        "instructions_total": float(total),
        "instructions_followed_strict": float(sum(strict)),
        "instructions_followed_loose": float(sum(loose)),
    }
    if not response.strip():
        return Verdict(correct=False, predicted=None, reason="empty response", scores=scores)
    failed = [i for (i, _), ok in zip(instructions, strict, strict=True) if not ok]
    reason = "not followed: " + ", ".join(failed) if failed else "all followed"
    return Verdict(correct=all(strict), predicted=",".join(str(int(s)) for s in strict), reason=reason, scores=scores)


def ifeval_aggregate(records: Iterable[GradedLine | Verdict]) -> dict[str, float]:
    """The four official IFEval accuracies, in percent, from graded records (output.jsonl lines with `scores`, or
    Verdicts): prompt-level strict/loose (share of items with every instruction followed) and instruction-level
    strict/loose (followed instructions / all instructions). Also `num_prompts` and `num_instructions`."""
    prompts = prompt_strict = prompt_loose = 0.0
    total = followed_strict = followed_loose = 0.0
    for record in records:
        scores = record.scores if isinstance(record, Verdict) else record.grading.scores
        if "instructions_total" not in scores:
            rid = None if isinstance(record, Verdict) else record.line.get("id")
            raise DataError(
                f"record {rid!r} has no ifeval scores ({scores!r}); run the evaluate stage with the ifeval grader"
            )
        prompts += 1
        prompt_strict += scores["prompt_strict"]
        prompt_loose += scores["prompt_loose"]
        total += scores["instructions_total"]
        followed_strict += scores["instructions_followed_strict"]
        followed_loose += scores["instructions_followed_loose"]

    def percent(part: float, whole: float) -> float:
        return 100.0 * part / whole if whole else 0.0

    return {
        "prompt_strict_accuracy": percent(prompt_strict, prompts),
        "prompt_loose_accuracy": percent(prompt_loose, prompts),
        "instruction_strict_accuracy": percent(followed_strict, total),
        "instruction_loose_accuracy": percent(followed_loose, total),
        "num_prompts": prompts,
        "num_instructions": total,
    }


# The aggregate is IFEval's four official accuracies (instruction-level ones are micro averages).
register_grader(
    "ifeval", aggregate=AggregateHook("instructions_total", ifeval_aggregate, headline="prompt_strict_accuracy")
)(grade_ifeval)
