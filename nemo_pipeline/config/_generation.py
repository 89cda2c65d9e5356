"""The defaults of generation and the one rule that applies them.

Every sampling value a request is sent with comes from `resolve_inference`: the value the user set, else the one the
benchmark (or a judge protocol) asks for, else the global default below. The graph builder calls it for every
generate task, the generate stage for its stop strings, and the judge for its requests.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TypeVar

from nemo_pipeline.errors import ConfigError

__all__ = [
    "GREEDY_TEMPERATURE",
    "SAMPLED_TEMPERATURE",
    "TOKENS_TO_GENERATE",
    "InferenceConfig",
    "SamplingDefaults",
    "check_tokens_to_generate",
    "resolve_inference",
]

# The global defaults: used where neither the user nor the benchmark (or judge protocol) says otherwise.
GREEDY_TEMPERATURE = 0.0  # a run without seeds (`bench:0`), the generate stage run by hand, the judge
SAMPLED_TEMPERATURE = 0.7  # each seed of a sampled run (`bench:N`)
TOKENS_TO_GENERATE = 512  # the token budget of one answer

T = TypeVar("T")


@dataclass
class InferenceConfig:
    """Sampling settings sent with every request. None means: the benchmark's default (`resolve_inference`)."""

    temperature: float | None = None
    top_p: float = 1.0
    top_k: int = -1  # -1: not sent
    tokens_to_generate: int | None = None
    random_seed: int = 0
    stop: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SamplingDefaults:
    """What a benchmark or a judge protocol asks for where the user set nothing (None: the global default)."""

    temperature: float | None = None  # a run without seeds
    seeds_temperature: float | None = None  # each seed of a sampled run
    tokens_to_generate: int | None = None
    stop: tuple[str, ...] = ()  # the prompt's stop strings, sent unless the user gives `inference.stop`


def _first(user: T | None, own: T | None, default: T) -> T:
    if user is not None:
        return user
    return own if own is not None else default


def check_tokens_to_generate(value: int | None, key: str) -> None:
    """ConfigError naming `key` for a token budget below 1 (None: unset, the benchmark's or the global default)."""
    if value is not None and value < 1:
        raise ConfigError(f"{key} must be at least 1 (or left unset for the benchmark's budget), got {value}")


def resolve_inference(
    user: InferenceConfig, own: SamplingDefaults | None = None, seed: int | None = None, where: str = "inference."
) -> InferenceConfig:
    """`user` with every value it leaves unset filled: the user's value, else `own`'s, else the global default.

    `seed` marks one seed of a sampled run: it becomes the random seed (whatever the user set) and the temperature
    falls back to the sampled one instead of the greedy one. `where` prefixes the keys named in errors ("judge.")."""
    check_tokens_to_generate(user.tokens_to_generate, f"{where}tokens_to_generate")
    own = own or SamplingDefaults()
    if seed is None:
        temperature = _first(user.temperature, own.temperature, GREEDY_TEMPERATURE)
    else:
        temperature = _first(user.temperature, own.seeds_temperature, SAMPLED_TEMPERATURE)
    return dataclasses.replace(
        user,
        temperature=temperature,
        tokens_to_generate=_first(user.tokens_to_generate, own.tokens_to_generate, TOKENS_TO_GENERATE),
        random_seed=user.random_seed if seed is None else seed,
        stop=list(user.stop) or list(own.stop),
    )
