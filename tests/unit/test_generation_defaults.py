"""Where each sampling value comes from: the user's setting, else the benchmark's (or the judge protocol's), else the
global default. One table per caller of `config.resolve_inference`: the graph builder (eval.py's generate tasks),
the generate stage run by hand, and the judge."""

import copy
import dataclasses

import pytest

from nemo_pipeline.config import EvalConfig, GenerateConfig, JudgeConfig, compose_config, flat_values
from nemo_pipeline.datasets import BENCHMARKS
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.evaluation.judge_stage import _plan
from nemo_pipeline.inference.generate import sampling_params
from nemo_pipeline.inference.prompts import load_prompt
from nemo_pipeline.jobs._stage_configs import evaluate_config, generate_config

UNSET = None
FEWSHOT_STOP = ("\n\nQuestion:", "\nQuestion:")  # conf/prompt/generic/math-fewshot.yaml


def _bench(tokens, seeds_temperature):
    return dataclasses.replace(BENCHMARKS.get("gsm8k"), tokens_to_generate=tokens, seeds_temperature=seeds_temperature)


# (eval.py overrides, the benchmark's tokens and seeds temperature, the run's seed) -> (temperature, tokens, seed)
EVAL_ROWS = [
    ([], (256, 0.9), None, (0.0, 256, 0)),  # greedy: the global greedy temperature, the benchmark's budget
    ([], (UNSET, UNSET), None, (0.0, 512, 0)),  # the benchmark says nothing: global defaults
    ([], (256, 0.9), 2, (0.9, 256, 2)),  # a seed: the benchmark's sampled temperature, the seed as random seed
    ([], (UNSET, UNSET), 2, (0.7, 512, 2)),  # ... or the global sampled temperature
    (["++inference.temperature=0.3", "++inference.tokens_to_generate=64"], (256, 0.9), None, (0.3, 64, 0)),
    (["++inference.temperature=0.0"], (256, 0.9), 2, (0.0, 256, 2)),  # the user's 0.0 beats the benchmark's 0.9
    (["++inference.random_seed=5"], (256, 0.9), None, (0.0, 256, 5)),  # the user's seed for a run without seeds
    (["++inference.random_seed=5"], (256, 0.9), 3, (0.9, 256, 3)),  # ... a run's seed beats it
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("overrides", "bench", "seed", "expected"), EVAL_ROWS)
def test_eval_generate_tasks_take_user_then_benchmark_then_global(overrides, bench, seed, expected):
    cfg = compose_config(EvalConfig, "eval", overrides)
    asked = copy.deepcopy(cfg.inference)
    gen = generate_config(cfg, _bench(*bench), "in.jsonl", "out.jsonl", seed, 0)
    inference = gen.inference
    assert (inference.temperature, inference.tokens_to_generate, inference.random_seed) == expected
    prompt = load_prompt(gen.prompt_config)
    params = sampling_params(gen, prompt)
    assert (params.temperature, params.max_tokens, params.seed) == expected
    assert params.stop == prompt.stop and prompt.stop  # the user gave none: the benchmark's prompt's
    assert cfg.inference == asked  # resolving leaves the user's config as it was (other seeds resolve it again)


@pytest.mark.timeout(30)
def test_user_stop_strings_replace_the_prompts():
    cfg = compose_config(EvalConfig, "eval", ["++inference.stop=[END]"])
    gen = generate_config(cfg, _bench(256, 0.9), "in.jsonl", "out.jsonl", None, 0)
    assert gen.inference.stop == ["END"]
    assert sampling_params(gen, load_prompt(gen.prompt_config)).stop == ("END",)


REQUIRED = ["++input_file=in.jsonl", "++output_file=out.jsonl"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ([], (0.0, 512, FEWSHOT_STOP)),  # no benchmark by hand: the global defaults and the prompt's stop strings
        (["++inference.temperature=0.6", "++inference.tokens_to_generate=64"], (0.6, 64, FEWSHOT_STOP)),
        (["++inference.stop=[END]"], (0.0, 512, ("END",))),
    ],
)
def test_generate_stage_by_hand_takes_user_then_global(overrides, expected):
    cfg = compose_config(GenerateConfig, "generate", [*REQUIRED, *overrides])
    params = sampling_params(cfg, load_prompt(cfg.prompt_config))
    assert (params.temperature, params.max_tokens, params.stop) == expected


# (the grader whose protocol the judge follows, the judge settings) -> (temperature, max_tokens)
JUDGE_ROWS = [
    ("judge", {}, (0.0, 512)),  # the project's judge prompts: global defaults
    ("judge", {"temperature": 0.2, "tokens_to_generate": 77}, (0.2, 77)),
    ("mt-bench", {}, (0.0, 2048)),  # FastChat's protocol
    ("mt-bench", {"tokens_to_generate": 64}, (0.0, 64)),
    ("mt-bench-101", {}, (0.8, 4096)),  # OpenCompass's protocol
    ("mt-bench-101", {"temperature": 0.0}, (0.0, 4096)),  # the user's 0.0 beats the protocol's 0.8
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("grader", "settings", "expected"), JUDGE_ROWS)
def test_judge_takes_user_then_protocol_then_global(grader, settings, expected):
    judge = JudgeConfig(**settings)
    params = _plan(judge, grader).sampling(judge)
    assert (params.temperature, params.max_tokens) == expected
    assert (params.top_p, params.top_k, params.seed, params.stop) == (1.0, -1, 0, ())


@pytest.mark.timeout(30)
@pytest.mark.parametrize("key", ["inference", "judge"])
def test_a_token_budget_below_one_is_refused_naming_the_key(key):
    from nemo_pipeline.pipeline_eval import _compose

    with pytest.raises(ConfigError, match=rf"overrides: {key}.tokens_to_generate must be at least 1.*got 0"):
        _compose([f"++{key}.tokens_to_generate=0"], "overrides")
    cfg = compose_config(EvalConfig, "eval", ["++inference.tokens_to_generate=-1"])
    with pytest.raises(ConfigError, match=r"inference.tokens_to_generate must be at least 1.*got -1"):
        generate_config(cfg, _bench(256, 0.9), "in.jsonl", "out.jsonl", None, 0)


@pytest.mark.timeout(30)
def test_every_shared_setting_reaches_the_stage_configs_under_its_plain_key():
    """eval.py's generation settings reach each generate job, and its judge settings each evaluate job, under the
    keys a user types (`++max_retries`, `++judge.max_retries`, `++inference.top_p`, ...)."""
    shared = {
        "max_samples": 7, "max_samples_per_subset": 3, "num_chunks": 2, "code_execution": True,
        "max_code_executions": 9, "code_execution_timeout_s": 2.5, "max_concurrent_requests": 5,
        "concurrency.max": 64, "request_timeout_s": 12.0, "max_retries": 1, "server.server_type": "vllm",
        "server.parallel_requests": 3, "sandbox.address": "http://127.0.0.1:9", "inference.top_p": 0.5,
        "inference.top_k": 20,
    }  # fmt: skip
    judge = {
        "judge.max_retries": 2,
        "judge.request_timeout_s": 30.0,
        "judge.concurrency.min": 2,
        "judge.mode": "pairwise",
    }
    overrides = [f"++{key}={value}" for key, value in {**shared, **judge}.items()]
    cfg = compose_config(EvalConfig, "eval", overrides)
    gen = flat_values(generate_config(cfg, _bench(256, 0.9), "in.jsonl", "out.jsonl", None, 1))
    assert {key: gen[key] for key in shared} == shared
    evaluate = flat_values(evaluate_config(cfg, _bench(256, 0.9), ["out.jsonl"]))
    assert {key: evaluate[key] for key in judge} == judge
    assert (evaluate["num_chunks"], evaluate["sandbox.address"]) == (2, "http://127.0.0.1:9")
