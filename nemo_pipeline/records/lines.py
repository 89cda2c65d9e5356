"""The lines of output*.jsonl: the evaluate stage's verdict on a line (`Grading`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nemo_pipeline.records._base import as_text, finite_number


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


def is_graded(line: Mapping[str, Any]) -> bool:
    """Whether the evaluate stage has written its verdict on `line` (the metrics stage counts only such lines)."""
    return "is_correct" in line
