"""Log-likelihood (multiple-choice) scoring from prompt log-probabilities, comparable with lm-evaluation-harness."""

from nemo_pipeline.loglik._items import (
    FEWSHOT_SEED,
    LoglikFields,
    Request,
    fewshot_prefix,
    is_loglik_item,
    loglik_fields,
    loglik_record,
    requests_of,
)
from nemo_pipeline.loglik._runner import (
    check_loglik_task,
    check_server_can_score,
    is_loglik_input,
    run_loglik,
    score_all,
    scoring_server_types,
)
from nemo_pipeline.loglik._score import ContinuationScore, ItemScore, continuation_logprob, score_item

__all__ = [
    "FEWSHOT_SEED",
    "ContinuationScore",
    "ItemScore",
    "LoglikFields",
    "Request",
    "check_loglik_task",
    "check_server_can_score",
    "continuation_logprob",
    "fewshot_prefix",
    "is_loglik_input",
    "is_loglik_item",
    "loglik_fields",
    "loglik_record",
    "requests_of",
    "run_loglik",
    "score_all",
    "score_item",
    "scoring_server_types",
]
