"""Where the adaptive limit opens: the server type's slot count when it is fixed, else the opening burst; an explicit
`concurrency.initial` or a limit an earlier task settled at wins; bad bounds name the key."""

from __future__ import annotations

import pytest

from nemo_pipeline.config import GenerateConfig, JudgeConfig, compose_config
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.inference._client_report import limiter_for
from nemo_pipeline.inference._concurrency import OPENING_BURST


def _limiter(*overrides: str, base_url: str = ""):
    cfg = compose_config(GenerateConfig, "generate", list(overrides))
    return limiter_for(cfg.max_concurrent_requests, cfg.concurrency, cfg.server, base_url)


@pytest.mark.parametrize(
    ("server_type", "parallel", "opening"),
    [
        ("llamacpp", 4, 4),
        ("llamacpp", 2, 2),
        ("nemo", 16, 16),
        ("llamacpp-python", 4, 1),
        ("vllm", 4, OPENING_BURST),
        ("sglang", 4, OPENING_BURST),
        ("trtllm", 4, OPENING_BURST),
        ("openai", 4, OPENING_BURST),
    ],
)
def test_the_limit_opens_at_the_server_types_slots_or_the_burst(server_type, parallel, opening):
    limiter = _limiter(f"++server.server_type={server_type}", f"++server.parallel_requests={parallel}")
    assert limiter.adaptive
    assert limiter.settings.burst == opening
    assert limiter.limit == min(32, opening)  # the ramp starts there and grows toward the opening limit


def test_explicit_initial_and_max_bound_the_opening():
    assert _limiter("++server.server_type=vllm", "++concurrency.initial=64").settings.burst == 64
    assert _limiter("++server.server_type=vllm", "++concurrency.max=100").settings.burst == 100
    assert _limiter("++server.server_type=llamacpp", "++concurrency.min=6").limit == 6


def test_the_judge_is_adaptive_and_its_errors_name_judge_keys():
    judge = JudgeConfig()  # the embedded llama.cpp judge by default: opens at its slots
    limiter = limiter_for(judge.max_concurrent_requests, judge.concurrency, judge.server, where="judge.")
    assert limiter.adaptive and limiter.settings.burst == judge.server.parallel_requests
    judge.max_concurrent_requests = 0
    with pytest.raises(ConfigError, match=r"judge\.max_concurrent_requests=0"):
        limiter_for(judge.max_concurrent_requests, judge.concurrency, judge.server, where="judge.")


def test_a_pinned_limit_has_no_ramp():
    limiter = _limiter("++server.server_type=vllm", "++max_concurrent_requests=3")
    assert not limiter.adaptive and limiter.limit == 3


def test_a_later_task_opens_where_the_earlier_one_settled():
    from nemo_pipeline.inference import _client_report

    _client_report._SETTLED["http://settled.example/v1"] = 40
    try:
        limiter = _limiter("++server.server_type=vllm", base_url="http://settled.example/v1")
    finally:
        del _client_report._SETTLED["http://settled.example/v1"]
    assert limiter.settings.burst == 40


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["++concurrency.initial=0"], "concurrency.initial=0"),
        (["++concurrency.initial=2000"], "concurrency.initial=2000"),
        (["++concurrency.min=10", "++concurrency.max=5"], "concurrency.min=10"),
        (["++max_concurrent_requests=0"], "max_concurrent_requests=0"),
    ],
)
def test_bad_bounds_name_the_key(overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        _limiter(*overrides)
