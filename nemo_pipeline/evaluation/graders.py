"""The grader interface and registry.

A grader is a pure, picklable function `grade(item, context) -> Verdict`. The evaluate stage runs graders in a
time-limited process pool, so a grader never needs its own timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nemo_pipeline.registry import Registry

__all__ = ["GRADERS", "Grader", "GraderContext", "Verdict", "register_grader"]


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

GRADERS: Registry[Grader] = Registry("grader")


def register_grader(name: str) -> Callable[[Grader], Grader]:
    """Register a grader under `name`; a duplicate name raises at import."""
    return GRADERS.register(name)
