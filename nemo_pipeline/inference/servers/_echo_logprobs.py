"""The `logprobs` block of an echoed completion, computed with numpy instead of a Python sort per token.

llama-cpp-python 0.3.x builds an echo request's `logprobs` by sorting every position's whole vocabulary as Python
tuples (262,144 of them per token for Gemma 3: about half a second each) and by detokenizing every prefix again.
This module returns the same block, field for field and value for value:

- log-probabilities from `llama_cpp.Llama.logits_to_logprobs` itself, applied to blocks of rows (each row's
  log-softmax depends on that row alone, so the floats are the ones the whole-matrix call gives);
- the top-n of a row ordered as `sorted(zip(logprob, token_id), reverse=True)` orders them (higher log-probability
  first, ties by the higher token id), found with a partition and a sort of the few candidates;
- `text_offset` from one running concatenation of token pieces, decoded per prefix as llama-cpp-python decodes them
  (UTF-8, undecodable bytes ignored).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

ROWS_PER_BLOCK = 8  # 8 x 262,144 float32 = 8 MiB per temporary: cache-sized, no page-fault storm per request


def top_entries(row: npt.NDArray[np.float32], count: int) -> list[int]:
    """Token ids of the `count` highest entries of `row`, highest first, ties by the higher id (Python's order)."""
    size = row.shape[0]
    if count <= 0:
        return []
    if count >= size:
        candidates = np.arange(size)
    else:
        threshold = row.max() if count == 1 else np.partition(row, size - count)[size - count]
        candidates = np.flatnonzero(row >= threshold)
    order = np.lexsort((candidates, row[candidates]))[::-1]  # value, then id, both descending
    return [int(i) for i in candidates[order[:count]]]


def _prefix_lengths(llama: Any, tokens: Sequence[int], pieces: dict[int, bytes]) -> list[int]:
    """len(llama.detokenize(tokens[:i]).decode("utf-8", errors="ignore")) for every i < len(tokens)."""
    if llama.token_bos() in tokens:  # detokenize() treats a leading BOS specially: ask it directly (rare)
        return [len(llama.detokenize(list(tokens[:i])).decode("utf-8", errors="ignore")) for i in range(len(tokens))]
    lengths: list[int] = []
    text = bytearray()
    for token in tokens:
        lengths.append(len(text.decode("utf-8", errors="ignore")))
        text += pieces[token]
    return lengths


def echo_logprobs(
    llama: Any, prompt_tokens: Sequence[int], completion_tokens: Sequence[int], top_n: int
) -> dict[str, list[Any]]:
    """The `logprobs` of an echoed completion of `prompt_tokens` (+ `completion_tokens`), from `llama`'s scores."""
    from llama_cpp import Llama

    bos = llama.token_bos()
    all_tokens = list(prompt_tokens[1 if prompt_tokens and prompt_tokens[0] == bos else 0 :]) + list(completion_tokens)
    scores: npt.NDArray[np.float32] = llama._scores
    count = min(len(all_tokens), scores.shape[0])
    all_tokens = all_tokens[:count]

    pieces: dict[int, bytes] = {}

    def piece(token: int) -> bytes:
        if token not in pieces:
            pieces[token] = llama.detokenize([token])
        return pieces[token]

    def text(token: int) -> str:
        return piece(token).decode("utf-8", errors="ignore")

    for token in all_tokens:
        piece(token)
    offsets = _prefix_lengths(llama, all_tokens, pieces)

    tokens: list[str] = []
    text_offset: list[int] = []
    token_logprobs: list[Any] = []
    top_logprobs: list[Any] = []
    for start in range(0, count, ROWS_PER_BLOCK):
        block = Llama.logits_to_logprobs(scores[start : start + ROWS_PER_BLOCK])
        for row_index, row in enumerate(block):
            idx = start + row_index
            token = all_tokens[idx]
            if token == bos:
                continue
            token_str = text(token)
            tokens.append(token_str)
            text_offset.append(offsets[idx])
            token_logprobs.append(row[token])
            top: dict[str, Any] = {}
            for candidate in top_entries(row, top_n):
                top[text(candidate)] = row[candidate]
            top[token_str] = row[token]
            top_logprobs.append(top)
    if token_logprobs:
        token_logprobs[0] = None
        top_logprobs[0] = None
    return {
        "tokens": tokens,
        "text_offset": text_offset,
        "token_logprobs": token_logprobs,
        "top_logprobs": top_logprobs,
    }
