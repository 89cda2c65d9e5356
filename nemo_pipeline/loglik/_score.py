"""Pure scoring: continuation log-probabilities from an echoed completion, and acc / acc_norm / mc2 per item."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nemo_pipeline.errors import DataError
from nemo_pipeline.loglik._items import LoglikFields

__all__ = ["ContinuationScore", "ItemScore", "continuation_logprob", "score_item", "split_context"]


@dataclass(frozen=True)
class ContinuationScore:
    logprob: float
    is_greedy: bool
    num_tokens: int


def split_context(context: str, continuation: str) -> tuple[str, str]:
    """The context and continuation as lm-evaluation-harness tokenizes them: trailing whitespace of the context
    moves to the start of the continuation (the whole text is unchanged)."""
    kept = context.rstrip()
    return kept, context[len(kept) :] + continuation


def continuation_logprob(
    logprobs: Mapping[str, Any], *, prompt_tokens: int, generated_tokens: int, context_tokens: int
) -> ContinuationScore:
    """Sum the log-probabilities of the continuation's tokens in an echoed completion of context + continuation.

    The continuation's tokens are the last `prompt_tokens - context_tokens` tokens of the prompt, where both counts
    are the server's own (`usage.prompt_tokens` of the whole text and of the context alone, BOS included): the rule
    of lm-evaluation-harness's `hf` and `local-completions` models (`whole[len(context_tokens):]`). It needs no
    token text: servers echo a BOS token the text does not contain (vLLM, with offsets that count it), or leave it
    out (llama-cpp-python), and decode byte tokens to replacement characters, so text offsets do not locate tokens.

    The echo holds the prompt's tokens (with or without a leading BOS) then `generated_tokens` generated ones;
    DataError (one line) when the counts do not fit it.
    """
    try:
        tokens = list(logprobs["tokens"])
        values = list(logprobs["token_logprobs"])
    except (KeyError, TypeError) as exc:
        raise DataError(
            f"the completion has no echoed prompt log-probabilities ({exc}); the server must support "
            "`echo` with `logprobs` on /v1/completions"
        ) from None
    if len(values) != len(tokens):
        raise DataError(f"the echo has {len(tokens)} tokens but {len(values)} log-probabilities")
    echoed = len(tokens) - generated_tokens  # the prompt's tokens as echoed
    wanted = prompt_tokens - context_tokens
    if echoed not in (prompt_tokens, prompt_tokens - 1) or not 0 < wanted < prompt_tokens:
        raise DataError(
            f"cannot align the echo with the prompt: {len(tokens)} echoed tokens, {generated_tokens} generated, "
            f"but the server counts {prompt_tokens} prompt tokens of which {context_tokens} are the context's"
        )
    tops = logprobs.get("top_logprobs") or [None] * len(tokens)
    total, greedy = 0.0, True
    for i in range(echoed - wanted, echoed):
        value = values[i]
        if value is None:
            raise DataError(f"echoed token {i} ({tokens[i]!r}) of the continuation has no log-probability")
        total += float(value)
        top = tops[i] if i < len(tops) else None
        if greedy and isinstance(top, Mapping) and top:
            greedy = max(top, key=lambda t: top[t]) == tokens[i]
    return ContinuationScore(total, greedy, wanted)


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
