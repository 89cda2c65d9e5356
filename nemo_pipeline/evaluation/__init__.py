"""Grading and metrics: graders register by name on import of this package; `grade_all` runs them time-limited."""

from __future__ import annotations

import importlib
import importlib.util

from nemo_pipeline.evaluation import math_grader as _math_grader  # noqa: F401 - registers "math"
from nemo_pipeline.evaluation import mcq_grader as _mcq_grader  # noqa: F401 - registers "mcq"
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

# Graders written alongside this package; each registers itself when its module exists.
for _name in ("code_grader", "ifeval_grader", "judge_grader"):
    if importlib.util.find_spec(f"{__name__}.{_name}") is not None:
        importlib.import_module(f"{__name__}.{_name}")

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
