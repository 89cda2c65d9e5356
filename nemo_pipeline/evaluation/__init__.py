"""Grading and metrics: graders register by name on import of this package; `grade_all` runs them time-limited."""

from __future__ import annotations

from nemo_pipeline.evaluation._pool import grade_all
from nemo_pipeline.evaluation.graders import GRADERS, Grader, GraderContext, Verdict, register_grader
from nemo_pipeline.evaluation.math_grader import extract_answer, is_equivalent
from nemo_pipeline.evaluation.metrics import (
    MajorityAtK,
    PassAtK,
    compute_metrics,
    majority_at_k,
    majority_vote,
    mean_std_err,
    no_answer_rate,
    pass1_over_seeds,
    pass_at_k,
    time_stats,
    token_stats,
)
from nemo_pipeline.registry import import_modules

# Every `*_grader` module of this package registers its graders on import: a new grader is one new module.
import_modules(__name__, __path__, suffix="_grader")

__all__ = [
    "GRADERS",
    "Grader",
    "GraderContext",
    "MajorityAtK",
    "PassAtK",
    "Verdict",
    "compute_metrics",
    "extract_answer",
    "grade_all",
    "is_equivalent",
    "majority_at_k",
    "majority_vote",
    "mean_std_err",
    "no_answer_rate",
    "pass1_over_seeds",
    "pass_at_k",
    "register_grader",
    "time_stats",
    "token_stats",
]
