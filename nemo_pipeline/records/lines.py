"""The lines of output*.jsonl: what the generate stage adds to an item (`Generated`, with `LoglikScores` for
log-likelihood items), the evaluate stage's verdict (`Grading`) and a graded line as the metrics stage reads it
(`GradedLine`).

Writers merge `to_json()` into the item (`{**item, **record.to_json()}`), so a line keeps the item's own keys.
`read(line, where)` reads strictly: a key of the wrong type is a DataError naming `where` and the key. Keys added
after the first files were written (`finish_reason`, `generation_time_s`, `num_generated_tokens`, `grading_reason`,
`scores`) read as their defaults when absent, so old run directories still read.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nemo_pipeline.errors import DataError
from nemo_pipeline.records._base import as_text, finite_number


def _count(line: Mapping[str, Any], key: str, where: str) -> int:
    value = line.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataError(f"{where}: {key!r} should be an integer >= 0, got {value!r}")
    return value


def _seconds(line: Mapping[str, Any], key: str, where: str) -> float:
    value = line.get(key, 0.0)
    if finite_number(value) is None or value < 0:
        raise DataError(f"{where}: {key!r} should be a number of seconds >= 0, got {value!r}")
    return float(value)


def _text(line: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = line.get(key, default)
    if not isinstance(value, str):
        missing = key not in line
        raise DataError(f"{where}: {key!r} should be a string, got {'nothing' if missing else repr(value)}")
    return value


def _list(line: Mapping[str, Any], key: str, where: str, what: str, ok: Any) -> list[Any] | None:
    """`line[key]` when it is a list whose every element passes `ok`, None when absent; else a DataError."""
    if key not in line:
        return None
    value = line[key]
    if not isinstance(value, list) or not all(ok(v) for v in value):
        raise DataError(f"{where}: {key!r} should be a list of {what}, got {str(value)[:200]}")
    return value


@dataclass(frozen=True)
class LoglikScores:
    """What scoring a log-likelihood item adds, one entry per choice: its log-likelihood, whether it is the model's
    greedy continuation, and its length in tokens."""

    loglikelihoods: tuple[float, ...]
    is_greedy: tuple[bool, ...]
    continuation_tokens: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "loglikelihoods": list(self.loglikelihoods),
            "is_greedy": list(self.is_greedy),
            "continuation_tokens": list(self.continuation_tokens),
        }

    @classmethod
    def read(cls, line: Mapping[str, Any], where: str) -> LoglikScores | None:
        """The scores of `line`, None when it has no `loglikelihoods` (not a log-likelihood item)."""
        lls = _list(line, "loglikelihoods", where, "finite numbers", lambda v: finite_number(v) is not None)
        if lls is None:
            return None
        greedy = _list(line, "is_greedy", where, "booleans", lambda v: isinstance(v, bool))
        tokens = _list(
            line, "continuation_tokens", where, "integers", lambda v: isinstance(v, int) and not isinstance(v, bool)
        )
        for key, values in (("is_greedy", greedy), ("continuation_tokens", tokens)):
            if values is None or len(values) != len(lls):
                raise DataError(f"{where}: {key!r} should be a list with one entry per log-likelihood ({len(lls)})")
        assert greedy is not None and tokens is not None
        return cls(tuple(float(v) for v in lls), tuple(greedy), tuple(tokens))


@dataclass(frozen=True)
class Generated:
    """What the generate stage adds to an item line: the answer, its cost, and what only some items have (one
    answer per turn of a multi-turn item, the code a code-execution item ran, a log-likelihood item's scores).
    Items whose requests failed are not written (the stage names them in its error), so every line has a text."""

    generation: str  # the answer (a multi-turn item's last one; a log-likelihood item's chosen choice)
    num_generated_tokens: int = 0  # 0 for log-likelihood items, which generate nothing
    finish_reason: str = ""  # the server's ("stop", "length", ...), "loglikelihood" for scored items
    generation_time_s: float = 0.0  # seconds from the item's first request to its last answer
    generations: tuple[str | None, ...] | None = None  # multi-turn: one per turn (None: a turn not answered)
    code_executions: tuple[dict[str, str], ...] | None = None  # code execution: {code, process_status, stdout, stderr}
    loglik: LoglikScores | None = None

    def to_json(self) -> dict[str, Any]:
        """The keys merged into the item, in the order the stage has always written them."""
        out: dict[str, Any] = {} if self.loglik is None else self.loglik.to_json()
        out["generation"] = self.generation
        if self.generations is not None:
            out["generations"] = list(self.generations)
        out["num_generated_tokens"] = self.num_generated_tokens
        out["finish_reason"] = self.finish_reason
        if self.code_executions is not None:
            out["code_executions"] = [dict(e) for e in self.code_executions]
        out["generation_time_s"] = self.generation_time_s
        return out

    @classmethod
    def read(cls, line: Mapping[str, Any], where: str) -> Generated:
        """The generate stage's part of `line`; DataError naming `where` and the key when `generation` is missing
        or a key has the wrong type."""
        generations = _list(line, "generations", where, "strings or nulls", lambda v: v is None or isinstance(v, str))
        executions = _list(
            line,
            "code_executions",
            where,
            "objects of strings",
            lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
        )
        return cls(
            generation=_text(line, "generation", where),
            num_generated_tokens=_count(line, "num_generated_tokens", where),
            finish_reason=_text(line, "finish_reason", where, default=""),
            generation_time_s=_seconds(line, "generation_time_s", where),
            generations=None if generations is None else tuple(generations),
            code_executions=None if executions is None else tuple(dict(e) for e in executions),
            loglik=LoglikScores.read(line, where),
        )

    @staticmethod
    def text_of(line: Mapping[str, Any]) -> str:
        """The answer of `line` as report text, read leniently ("" when there is none)."""
        return as_text(line.get("generation"))

    @staticmethod
    def answer_of(line: Mapping[str, Any]) -> str:
        """The answer a grader reads from `line`: its `generation` as text, "" when it has none (an empty answer is
        graded as one with nothing to extract)."""
        return str(line.get("generation") or "")


@dataclass(frozen=True)
class Grading:
    """The verdict the evaluate stage adds to a line of output*.jsonl (the line keeps its other keys). A line
    without `is_correct` is not graded yet."""

    is_correct: bool
    predicted_answer: str | None  # None: nothing could be extracted (no answer)
    grading_reason: str = ""
    scores: dict[str, float] = field(default_factory=dict)  # extra per-item scores (ifeval strict/loose, ratings)

    def to_json(self) -> dict[str, Any]:
        return {
            "predicted_answer": self.predicted_answer,
            "is_correct": self.is_correct,
            "grading_reason": self.grading_reason,
            "scores": dict(self.scores),
        }

    @classmethod
    def of(cls, line: Mapping[str, Any]) -> Grading | None:
        """The verdict on `line`, None when it has no boolean `is_correct`. Read leniently (a report shows any
        file): a non-text answer or reason reads as its JSON text, a score that is not a finite number is left out."""
        correct = line.get("is_correct")
        if not isinstance(correct, bool):
            return None
        predicted = line.get("predicted_answer")
        scores = line.get("scores")
        return cls(
            is_correct=correct,
            predicted_answer=None if predicted is None else as_text(predicted),
            grading_reason=as_text(line.get("grading_reason")),
            scores={str(k): float(v) for k, v in scores.items() if finite_number(v) is not None}
            if isinstance(scores, dict)
            else {},
        )

    @classmethod
    def read(cls, line: Mapping[str, Any], where: str) -> Grading:
        """The verdict on a graded line, read strictly (for metrics): DataError naming `where` and the key when
        `is_correct` is not a boolean, `predicted_answer` not a string or null, `grading_reason` not a string, or
        `scores` not an object of numbers. An absent `predicted_answer` is no answer (None)."""
        correct = line.get("is_correct")
        if not isinstance(correct, bool):
            raise DataError(f"{where}: 'is_correct' should be true or false, got {correct!r}")
        predicted = line.get("predicted_answer")
        if predicted is not None and not isinstance(predicted, str):
            raise DataError(f"{where}: 'predicted_answer' should be a string or null, got {predicted!r}")
        scores = line.get("scores")
        if scores is None:
            scores = {}
        if not isinstance(scores, dict) or any(
            isinstance(v, bool) or not isinstance(v, (int, float)) for v in scores.values()
        ):
            raise DataError(f"{where}: 'scores' should be an object of numbers, got {str(scores)[:200]}")
        return cls(
            is_correct=correct,
            predicted_answer=predicted,
            grading_reason=_text(line, "grading_reason", where, default=""),
            scores={k: float(v) for k, v in scores.items()},
        )


@dataclass(frozen=True)
class GradedLine:
    """A graded line as the metrics stage reads it: the verdict, the generation's cost, and the whole line for the
    item's own keys (`id`, `subset`, a benchmark's `task`)."""

    line: Mapping[str, Any]
    grading: Grading
    num_generated_tokens: int = 0  # 0 when the line does not say (made by hand, or before it was recorded)
    generation_time_s: float = 0.0

    @classmethod
    def read(cls, line: Mapping[str, Any], where: str) -> GradedLine:
        """`line` read strictly (`Grading.read`, and the cost keys' types); DataError naming `where` and the key."""
        return cls(
            line=line,
            grading=Grading.read(line, where),
            num_generated_tokens=_count(line, "num_generated_tokens", where),
            generation_time_s=_seconds(line, "generation_time_s", where),
        )


def is_graded(line: Mapping[str, Any]) -> bool:
    """Whether the evaluate stage has written its verdict on `line` (the metrics stage counts only such lines)."""
    return "is_correct" in line
