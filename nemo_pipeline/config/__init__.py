"""Structured stage configs and their composition with Hydra."""

from nemo_pipeline.config._compose import CONF_DIR, check_overrides, compose_config, flat_values, schema_keys, to_yaml
from nemo_pipeline.config._generation import (
    GREEDY_TEMPERATURE,
    SAMPLED_TEMPERATURE,
    TOKENS_TO_GENERATE,
    InferenceConfig,
    SamplingDefaults,
    check_tokens_to_generate,
    resolve_inference,
)
from nemo_pipeline.config._schema import (
    ClientConfig,
    ConcurrencyConfig,
    EvalConfig,
    EvaluateConfig,
    ExportConfig,
    GenerateConfig,
    GenerationConfig,
    GradingConfig,
    JudgeConfig,
    MetricsConfig,
    SandboxConfig,
    ServerConfig,
    generation_part,
)
from nemo_pipeline.config._typed import typed_from_mapping

__all__ = [
    "CONF_DIR",
    "GREEDY_TEMPERATURE",
    "SAMPLED_TEMPERATURE",
    "TOKENS_TO_GENERATE",
    "ClientConfig",
    "ConcurrencyConfig",
    "EvalConfig",
    "EvaluateConfig",
    "ExportConfig",
    "GenerateConfig",
    "GenerationConfig",
    "GradingConfig",
    "InferenceConfig",
    "JudgeConfig",
    "MetricsConfig",
    "SamplingDefaults",
    "SandboxConfig",
    "ServerConfig",
    "check_overrides",
    "check_tokens_to_generate",
    "compose_config",
    "flat_values",
    "generation_part",
    "resolve_inference",
    "schema_keys",
    "to_yaml",
    "typed_from_mapping",
]
