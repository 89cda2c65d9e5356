"""A benchmark's own judge protocol: its judge prompts, rendered from the benchmark's pinned data, and the judge's
sampling settings. The judge stage asks the judge with them; the protocol's grader (same name) reads the verdicts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["JudgeProtocol", "Messages"]

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class JudgeProtocol:
    """How a benchmark's official scorer asks its judge. `render(record)` returns one chat per judged turn, in the
    order the grader reads `judge_generation`; `max_tokens` and `temperature` are the official ones, used when
    `judge.tokens_to_generate` / `judge.temperature` are left unset."""

    grader: str
    render: Callable[[Mapping[str, Any]], list[Messages]]
    max_tokens: int
    temperature: float
