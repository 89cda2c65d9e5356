"""Each stage's typed config, built in one place from `EvalConfig` and a benchmark, and rendered to `++` overrides
with one quoting rule.

A generate job takes the `GenerationConfig` part of `EvalConfig` (server, sandbox, inference, max_samples, request
bounds, ...) as it is, an evaluate job its grading, sandbox and judge settings; the benchmark fills what the user left
unset (the prompt here, the temperature
and token budget through `config.resolve_inference`). Overrides are rendered against the stage's composed defaults
(schema + conf/<stage>.yaml), so a job's command carries only what differs from what the stage would do by itself.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from nemo_pipeline.config import (
    CONF_DIR,
    EvalConfig,
    EvaluateConfig,
    GenerateConfig,
    flat_values,
    generation_part,
    resolve_inference,
)
from nemo_pipeline.datasets import Benchmark
from nemo_pipeline.evaluation.judge_stage import graded_by

__all__ = ["evaluate_config", "generate_config", "grader_for", "hydra_value", "prompt_config_for", "stage_overrides"]

# Strings Hydra reads back unchanged without quotes; anything else is quoted.
_PLAIN = re.compile(r"^[A-Za-z_/.][A-Za-z0-9_/.\-]*$")


def hydra_value(value: object) -> str:
    """Render a Python value as a Hydra override value (strings quoted unless plainly safe)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in {"null", "true", "false", "nan", "inf"}:
        return text
    text = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def grader_for(bench: Benchmark, cfg: EvalConfig) -> str:
    """The grader of the chosen protocol (`++protocol`); a judged benchmark is graded by the grader of the
    configured judge mode (`++judge.mode=pairwise`)."""
    variant = bench.variant(cfg.protocol)
    grader = variant.grader if variant is not None and variant.grader else bench.grader
    return graded_by(grader, cfg.judge)  # the project's judge graders follow judge.mode; a benchmark's own stay


def prompt_config_for(bench: Benchmark, cfg: EvalConfig) -> str:
    """`++prompt_config` when given, else the prompt of the chosen protocol (`++protocol`), else the benchmark's."""
    if cfg.prompt_config:
        return cfg.prompt_config
    variant = bench.variant(cfg.protocol)
    return variant.prompt_config if variant is not None and variant.prompt_config else bench.prompt_config


def generate_config(
    cfg: EvalConfig, bench: Benchmark, input_file: str, output_file: str, seed: int | None, chunk: int
) -> GenerateConfig:
    """The generate stage's config for one output file (one seed, one chunk) of `bench`."""
    return GenerateConfig(
        **{**generation_part(cfg), "inference": resolve_inference(cfg.inference, bench.sampling, seed)},
        input_file=input_file,
        output_file=output_file,
        prompt_config=prompt_config_for(bench, cfg),
        chunk_id=chunk,
        progress=False,
    )


def evaluate_config(cfg: EvalConfig, bench: Benchmark, input_files: list[str]) -> EvaluateConfig:
    """The evaluate stage's config for the output files of `bench` (every seed of one request)."""
    return EvaluateConfig(
        input_files=list(input_files),
        grader=grader_for(bench, cfg),
        num_chunks=cfg.num_chunks,
        grading=copy.deepcopy(cfg.grading),
        sandbox=copy.deepcopy(cfg.sandbox),
        judge=copy.deepcopy(cfg.judge),
    )


_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {}


def _stage_defaults(schema: type[Any], config_name: str) -> dict[str, Any]:
    """The flat defaults a stage composes by itself: its schema with conf/<config_name>.yaml merged over it."""
    key = (f"{schema.__module__}.{schema.__qualname__}", config_name)
    if key not in _DEFAULTS:
        _DEFAULTS[key] = _compose_defaults(schema, config_name)
    return _DEFAULTS[key]


def _compose_defaults(schema: type[Any], config_name: str) -> dict[str, Any]:
    base = OmegaConf.structured(schema)
    path = CONF_DIR / f"{config_name}.yaml"
    if path.exists():
        loaded = OmegaConf.load(path)
        own = {k: v for k, v in OmegaConf.to_container(loaded).items() if k != "defaults"}  # type: ignore[union-attr]
        base = OmegaConf.merge(base, own)
    return flat_values(base)


def stage_overrides(stage_cfg: object, config_name: str, keep: Iterable[str] = ()) -> list[str]:
    """`++key=value` for every setting of `stage_cfg` that differs from what the stage composes by itself (and
    for the keys in `keep`), in schema order."""
    schema: type[Any] = type(stage_cfg)
    defaults = _stage_defaults(schema, config_name)
    keep = set(keep)
    values = flat_values(stage_cfg)
    return [
        f"++{key}={hydra_value(value)}"
        for key, value in values.items()
        if key in keep or key not in defaults or defaults[key] != value
    ]


def relative(path: Path, root: Path) -> str:
    return str(path.relative_to(root))
