"""Stage configs: overrides are checked against the schema before anything runs."""

import pytest

from nemo_pipeline.config import EvalConfig, GenerateConfig, compose_config
from nemo_pipeline.errors import ConfigError

REQUIRED = ["++input_file=in.jsonl", "++output_file=out.jsonl"]


@pytest.mark.timeout(30)
def test_overrides_reach_nested_typed_fields():
    cfg = compose_config(
        GenerateConfig, "generate", [*REQUIRED, "++inference.temperature=0.6", "++server.extra_args=[--flag,'a b']"]
    )
    assert cfg.inference.temperature == 0.6
    assert cfg.server.extra_args == ["--flag", "a b"]
    assert cfg.inference.tokens_to_generate == 512  # the global default (config/_generation.py)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("++inference.temprature=0.5", "Did you mean 'inference.temperature'"),
        ("++max_sample=3", "Did you mean 'max_samples'"),
        ("++max_samples=abc", "could not be converted to Integer"),
        ("++inference.temperature=hot", "could not be converted to Float"),
        ("++max_samples==3", "cannot parse override"),
    ],
)
def test_bad_override_names_the_problem(override, expected):
    with pytest.raises(ConfigError, match=expected):
        compose_config(GenerateConfig, "generate", [*REQUIRED, override])


@pytest.mark.timeout(30)
def test_missing_required_key_is_named():
    from nemo_pipeline.inference.generate import run_generate

    cfg = compose_config(GenerateConfig, "generate", ["++input_file=x"])  # a grouped job may give tasks_file instead
    with pytest.raises(ConfigError, match=r"required key\(s\) not set: output_file"):
        run_generate(cfg)


@pytest.mark.timeout(30)
def test_eval_config_defaults_leave_benchmark_defaults_open():
    cfg = compose_config(EvalConfig, "eval", ["++max_samples=10"])
    assert cfg.max_samples == 10
    assert cfg.inference.temperature is None
    assert cfg.server.server_type == "llamacpp"
