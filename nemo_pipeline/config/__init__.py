"""Structured stage configs and their composition with Hydra."""

from nemo_pipeline.config._compose import CONF_DIR, check_overrides, compose_config, flat_values, schema_keys, to_yaml
from nemo_pipeline.config._schema import (
    ConcurrencyConfig,
    EvalConfig,
    EvaluateConfig,
    ExportConfig,
    GenerateConfig,
    GradingConfig,
    InferenceConfig,
    JudgeConfig,
    MetricsConfig,
    SandboxConfig,
    ServerConfig,
)
from nemo_pipeline.config._typed import typed_from_mapping

__all__ = [
    "CONF_DIR",
    "ConcurrencyConfig",
    "EvalConfig",
    "EvaluateConfig",
    "ExportConfig",
    "GenerateConfig",
    "GradingConfig",
    "InferenceConfig",
    "JudgeConfig",
    "MetricsConfig",
    "SandboxConfig",
    "ServerConfig",
    "check_overrides",
    "compose_config",
    "flat_values",
    "schema_keys",
    "to_yaml",
    "typed_from_mapping",
]
