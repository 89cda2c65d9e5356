"""The grader interface and registry.

A grader is a pure, picklable function `grade(item, context) -> Verdict`. The evaluate stage runs graders in a
time-limited process pool, so a grader never needs its own timeout. It is registered with a `GraderSpec` that states
what it needs (a sandbox, a judge, a log-likelihood server, its aggregate metrics); the graph builder, the stages
and metrics ask the spec, never the grader's name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nemo_pipeline.evaluation._judge_protocol import JudgeProtocol
from nemo_pipeline.evaluation.metrics import AGGREGATES, AggregateHook
from nemo_pipeline.registry import Registry

__all__ = ["GRADERS", "Grader", "GraderContext", "GraderSpec", "Verdict", "register_grader"]


@dataclass(frozen=True)
class Verdict:
    """The result of grading one answer. `predicted is None` means nothing could be extracted (no answer)."""

    correct: bool
    predicted: str | None
    reason: str = ""
    # Extra per-item scores for graders with several measures (ifeval strict/loose, judge rating).
    scores: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GraderContext:
    """What a grader may need beyond the item itself."""

    sandbox_url: str | None = None
    timeout_s: float = 10.0


Grader = Callable[[Mapping[str, Any], GraderContext], Verdict]


@dataclass(frozen=True)
class GraderSpec:
    """A registered grader and what it needs. Calling the spec grades (`GRADERS.get(name)(item, context)`)."""

    name: str
    grade: Grader
    # Runs the answer's code: the evaluate stage starts a sandbox (or uses `sandbox.address`), a cluster job's
    # evaluate step gets a sandbox component, and `Benchmark.needs_sandbox` answers from here (its one owner).
    needs_sandbox: bool = False
    # Reads judge verdicts: "single" or "pairwise" (the project's judge prompts, following `judge.mode`), or the
    # grader's own protocol (its name); the judge runs before grading. None: no judge.
    judge: str | None = None
    # Grades choices scored by prompt log-probabilities: the model server must return them (`echo` + `logprobs`).
    needs_loglik_server: bool = False
    # Block-level metrics that are not a mean of per-item scores (IFEval's, MT-Bench's, loglik's standard errors);
    # registered in metrics' AGGREGATES under the grader's name.
    aggregate: AggregateHook | None = None
    # A benchmark's own judge protocol (its prompts and sampling), when `judge` is the grader's own name.
    judge_protocol: JudgeProtocol | None = None

    @property
    def needs_judge(self) -> bool:
        return self.judge is not None

    def __call__(self, item: Mapping[str, Any], context: GraderContext) -> Verdict:
        return self.grade(item, context)


GRADERS: Registry[GraderSpec] = Registry("grader")


def register_grader(
    name: str,
    *,
    needs_sandbox: bool = False,
    judge: str | JudgeProtocol | None = None,
    needs_loglik_server: bool = False,
    aggregate: AggregateHook | None = None,
) -> Callable[[Grader], Grader]:
    """Register a grader under `name` with what it needs; a duplicate name raises at import. `judge` is "single" or
    "pairwise" (the project's judge prompts), or the grader's own `JudgeProtocol`. The decorated function is
    returned as it is."""
    protocol, mode = (judge, judge.grader) if isinstance(judge, JudgeProtocol) else (None, judge)
    if protocol is not None and protocol.grader != name:
        raise ValueError(f"grader {name!r}: its judge protocol names the grader {protocol.grader!r}")

    def decorator(grade: Grader) -> Grader:
        hook = dataclasses.replace(aggregate, name=name) if aggregate is not None else None
        GRADERS.add(name, GraderSpec(name, grade, needs_sandbox, mode, needs_loglik_server, hook, protocol))
        if hook is not None:
            AGGREGATES.add(name, hook)
        return grade

    return decorator
