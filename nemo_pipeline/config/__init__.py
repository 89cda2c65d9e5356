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
    ConcurrencyConfig,
    EvalConfig,
    EvaluateConfig,
    ExportConfig,
    GenerateConfig,
    GradingConfig,
    JudgeConfig,
    MetricsConfig,
    SandboxConfig,
    ServerConfig,
)
from nemo_pipeline.config._typed import typed_from_mapping

__all__ = [
    "CONF_DIR",
    "GREEDY_TEMPERATURE",
    "SAMPLED_TEMPERATURE",
    "TOKENS_TO_GENERATE",
    "ConcurrencyConfig",
    "EvalConfig",
    "EvaluateConfig",
    "ExportConfig",
    "GenerateConfig",
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
    "resolve_inference",
    "schema_keys",
    "to_yaml",
    "typed_from_mapping",
]
