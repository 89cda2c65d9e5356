"""Log-likelihood items: the multiple-choice fields an item carries and the (context, continuation) requests they
make, built the way lm-evaluation-harness 0.4 builds them (so the scores are comparable).

An item is an ordinary benchmark record (`id`, `problem`, `expected_answer`, optional `subset`) plus a `loglik`
mapping (`LoglikFields`). `problem` is the full context: task description, few-shot examples and the question.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from nemo_pipeline.errors import DataError

__all__ = [
    "FEWSHOT_SEED",
    "LoglikFields",
    "Request",
    "fewshot_prefix",
    "is_loglik_item",
    "loglik_fields",
    "loglik_record",
    "requests_of",
]

D = TypeVar("D")

# lm-evaluation-harness's default `--fewshot_random_seed`.
FEWSHOT_SEED = 1234
METRIC_KINDS = ("mc", "mc2")


@dataclass(frozen=True)
class LoglikFields:
    """What scoring one item needs.

    - `choices`: the answer texts; each is scored as the continuation `target_delimiter + choice` after the
      context (acc_norm divides by the length of the choice text in characters, as lm-eval does).
    - `context_choices`: for tasks that vary the context instead (winogrande): one context per choice, each
      followed by `target_delimiter + continuation`; `choices` then holds these contexts.
    - `metric`: "mc" (acc: the top choice is `gold`) or "mc2" (TruthfulQA MC2: the normalized probability mass of
      the choices whose `labels` are 1).
    """

    choices: tuple[str, ...]
    gold: int = 0
    labels: tuple[int, ...] = ()
    metric: str = "mc"
    acc_norm: bool = True
    target_delimiter: str = " "
    context_choices: tuple[str, ...] = ()
    continuation: str = ""

    def check(self, where: str) -> None:
        if not self.choices:
            raise DataError(f"{where}: loglik item has no choices")
        if self.metric not in METRIC_KINDS:
            raise DataError(f"{where}: loglik metric {self.metric!r} is not one of {', '.join(METRIC_KINDS)}")
        if self.metric == "mc" and not 0 <= self.gold < len(self.choices):
            raise DataError(f"{where}: gold index {self.gold} is outside the {len(self.choices)} choices")
        if self.metric == "mc2" and (len(self.labels) != len(self.choices) or 1 not in self.labels):
            raise DataError(f"{where}: mc2 needs one 0/1 label per choice and at least one 1")
        if self.context_choices and len(self.context_choices) != len(self.choices):
            raise DataError(f"{where}: context_choices and choices differ in length")


@dataclass(frozen=True)
class Request:
    """One scored string: log P(continuation | context)."""

    context: str
    continuation: str


def is_loglik_item(item: Mapping[str, Any]) -> bool:
    return isinstance(item.get("loglik"), dict)


def loglik_fields(item: Mapping[str, Any]) -> LoglikFields:
    """The item's `loglik` mapping as LoglikFields; DataError naming the item when it is malformed."""
    raw = item.get("loglik")
    where = f"item {item.get('id')!r}"
    if not isinstance(raw, dict):
        raise DataError(f"{where}: no 'loglik' mapping (is this a log-likelihood benchmark's data file?)")
    try:
        fields = LoglikFields(
            choices=tuple(str(c) for c in raw["choices"]),
            gold=int(raw.get("gold", 0)),
            labels=tuple(int(v) for v in raw.get("labels", ())),
            metric=str(raw.get("metric", "mc")),
            acc_norm=bool(raw.get("acc_norm", True)),
            target_delimiter=str(raw.get("target_delimiter", " ")),
            context_choices=tuple(str(c) for c in raw.get("context_choices", ())),
            continuation=str(raw.get("continuation", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{where}: malformed 'loglik' mapping ({type(exc).__name__}: {exc})") from None
    fields.check(where)
    return fields


def loglik_record(
    item_id: str,
    context: str,
    fields: LoglikFields,
    *,
    subset: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A benchmark record for a log-likelihood item (what a loader returns)."""
    fields.check(f"item {item_id!r}")
    data = asdict(fields)
    data = {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}
    if fields.metric == "mc2":
        expected: str = " | ".join(c for c, label in zip(fields.choices, fields.labels, strict=True) if label)
    else:
        expected = fields.choices[fields.gold]
    record: dict[str, Any] = {"id": item_id, "problem": context, "expected_answer": expected, "loglik": data}
    if subset is not None:
        record["subset"] = subset
    if extra:
        record.update(extra)
    return record


def requests_of(item: Mapping[str, Any]) -> list[Request]:
    """The requests of one item, one per choice, in choice order."""
    fields = loglik_fields(item)
    context = str(item["problem"])
    if fields.context_choices:
        # `problem` holds the shared prefix (description and few-shot examples); each choice completes it.
        return [Request(context + c, fields.target_delimiter + fields.continuation) for c in fields.context_choices]
    return [Request(context, fields.target_delimiter + choice) for choice in fields.choices]


def fewshot_prefix(
    docs: Sequence[D],
    num_fewshot: int,
    render: Callable[[D], tuple[str, str]],
    *,
    description: str = "",
    first_n: bool = False,
    draw_one_more: bool = False,
    seed: int = FEWSHOT_SEED,
) -> Callable[[D | None], str]:
    """A function of the evaluated doc returning its few-shot prefix, as lm-eval 0.4 builds it: `description`, then
    per example `question + " " + answer + "\n\n"`.

    Examples are `random.Random(seed).sample(docs, n)`, one draw per evaluated item in item order (lm-eval's
    default sampler), or the first n docs (`first_n`, its sampler for MMLU). With `draw_one_more` (lm-eval does
    so when a task names no test split: hellaswag, winogrande, piqa) it draws n + 1, drops the evaluated doc if
    drawn, and keeps the first n. `render(doc)` gives an example's (question, answer) text.
    """
    if num_fewshot > len(docs):
        raise DataError(f"{num_fewshot}-shot needs {num_fewshot} few-shot examples, the few-shot split has {len(docs)}")
    rnd = random.Random(seed)
    pool = list(docs)

    def next_prefix(eval_doc: D | None = None) -> str:
        if num_fewshot == 0:
            return description
        if first_n:
            chosen = pool[:num_fewshot]
        elif draw_one_more:
            chosen = [d for d in rnd.sample(pool, num_fewshot + 1) if d != eval_doc][:num_fewshot]
            if len(chosen) < num_fewshot:
                chosen = rnd.sample([d for d in pool if d != eval_doc], num_fewshot)
        else:
            chosen = rnd.sample(pool, num_fewshot)
        shots = "".join(f"{q} {a}\n\n" for q, a in map(render, chosen))
        return description + shots

    return next_prefix
