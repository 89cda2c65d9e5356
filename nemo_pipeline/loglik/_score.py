"""Pure scoring: continuation log-probabilities from an echoed completion, and acc / acc_norm / mc2 per item."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nemo_pipeline.errors import DataError
from nemo_pipeline.loglik._items import LoglikFields

__all__ = ["ContinuationScore", "ItemScore", "continuation_logprob", "score_item"]


@dataclass(frozen=True)
class ContinuationScore:
    logprob: float
    is_greedy: bool
    num_tokens: int


def continuation_logprob(logprobs: Mapping[str, Any], context_chars: int, prompt_chars: int) -> ContinuationScore:
    """Sum the log-probabilities of the echoed prompt tokens that start at or after character `context_chars` and
    before `prompt_chars` (the end of context + continuation; later tokens were generated).

    This is lm-evaluation-harness's `gguf` rule (tokens chosen by `text_offset`), except that generated tokens are
    told apart by their offset rather than assumed to be exactly one.
    """
    try:
        offsets = [int(o) for o in logprobs["text_offset"]]
        tokens = list(logprobs["tokens"])
        values = list(logprobs["token_logprobs"])
    except (KeyError, TypeError) as exc:
        raise DataError(
            f"the completion has no echoed prompt log-probabilities ({exc}); the server must support "
            "`echo` with `logprobs` on /v1/completions"
        ) from None
    tops = logprobs.get("top_logprobs") or [None] * len(tokens)
    picked = [i for i, offset in enumerate(offsets) if context_chars <= offset < prompt_chars]
    if not picked:
        raise DataError(
            f"no echoed token starts inside the continuation (characters {context_chars}..{prompt_chars}); "
            "was the prompt echoed?"
        )
    total, greedy = 0.0, True
    for i in picked:
        value = values[i]
        if value is None:
            raise DataError(f"echoed token {i} ({tokens[i]!r}) has no log-probability")
        total += float(value)
        top = tops[i] if i < len(tops) else None
        if greedy and isinstance(top, Mapping) and top:
            greedy = max(top, key=lambda t: top[t]) == tokens[i]
    return ContinuationScore(total, greedy, len(picked))


@dataclass(frozen=True)
class ItemScore:
    """Per-item measures: `acc` and `acc_norm` are 0/1 for "mc" items; `acc` is the true mass for "mc2"."""

    predicted: int  # argmax of the raw log-likelihoods
    predicted_norm: int  # argmax of the length-normalized ones
    acc: float
    acc_norm: float | None
    correct: bool


def _argmax(values: Sequence[float]) -> int:
    """Index of the largest value; the first one on ties (as numpy.argmax)."""
    best = 0
    for i, value in enumerate(values):
        if value > values[best]:
            best = i
    return best


def score_item(fields: LoglikFields, loglikelihoods: Sequence[float]) -> ItemScore:
    """acc, acc_norm (log-likelihood per character of the choice text) or mc2, as lm-eval computes them."""
    if len(loglikelihoods) != len(fields.choices):
        raise DataError(f"{len(loglikelihoods)} log-likelihoods for {len(fields.choices)} choices")
    lls = [float(v) for v in loglikelihoods]
    predicted = _argmax(lls)
    lengths = [float(len(choice)) for choice in fields.choices]
    predicted_norm = _argmax([ll / length if length else ll for ll, length in zip(lls, lengths, strict=True)])
    if fields.metric == "mc2":
        top = max(lls)
        probs = [math.exp(ll - top) for ll in lls]  # shifted: the ratio is the same, and no underflow
        mass = sum(p for p, label in zip(probs, fields.labels, strict=True) if label) / sum(probs)
        return ItemScore(predicted, predicted_norm, mass, None, mass > 0.5)
    acc = 1.0 if predicted == fields.gold else 0.0
    acc_norm = (1.0 if predicted_norm == fields.gold else 0.0) if fields.acc_norm else None
    return ItemScore(predicted, predicted_norm, acc, acc_norm, acc == 1.0)
