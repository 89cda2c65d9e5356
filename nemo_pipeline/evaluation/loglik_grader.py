"""The `loglik` grader: verdicts of log-likelihood (multiple-choice) items from their scored choices.

The generate stage stored each choice's log-likelihood (`loglikelihoods`); this grader turns them into acc and
acc_norm (or TruthfulQA's mc2) exactly as lm-evaluation-harness does, and the aggregate hook adds their standard
errors (sample standard deviation / sqrt(n), lm-eval's `mean_stderr`). `is_correct` is acc (for mc2: the true
answers hold more than half of the probability mass), so the paired significance tests work on these benchmarks.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from nemo_pipeline.evaluation.graders import GraderContext, Verdict, register_grader
from nemo_pipeline.evaluation.metrics import AggregateHook
from nemo_pipeline.loglik import loglik_fields, score_item
from nemo_pipeline.records import GradedLine

__all__ = ["loglik_grader", "loglik_stderr"]

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def loglik_grader(item: Mapping[str, Any], context: GraderContext) -> Verdict:
    lls = item.get("loglikelihoods")
    if not isinstance(lls, list):
        return Verdict(False, None, "no loglikelihoods (was the item scored by the generate stage?)")
    fields = loglik_fields(item)
    result = score_item(fields, lls)
    scores = {"acc": result.acc}
    if result.acc_norm is not None:
        scores["acc_norm"] = result.acc_norm
    index = result.predicted
    predicted = _LETTERS[index] if index < len(_LETTERS) else str(index)
    return Verdict(result.correct, predicted, "", scores)


def _stderr(values: Sequence[float]) -> float:
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0


def loglik_stderr(records: Sequence[GradedLine]) -> dict[str, float]:
    """acc_stderr (and acc_norm_stderr where every record has acc_norm) over the block's records."""
    out = {"acc_stderr": _stderr([r.grading.scores["acc"] for r in records])}
    if all("acc_norm" in r.grading.scores for r in records):
        out["acc_norm_stderr"] = _stderr([r.grading.scores["acc_norm"] for r in records])
    return out


# Scored by a server that returns prompt log-probabilities; the aggregate adds the standard errors.
register_grader("loglik", needs_loglik_server=True, aggregate=AggregateHook("acc", loglik_stderr))(loglik_grader)
