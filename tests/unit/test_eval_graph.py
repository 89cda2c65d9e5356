"""The evaluation job graph: shape, dependencies, and skipping what is complete."""

import json
from pathlib import Path

import pytest

from nemo_pipeline.config import EvalConfig, compose_config
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.jobs import build_eval_graph, parse_benchmarks
from nemo_pipeline.jobs.eval_graph import ClusterPaths, hydra_value


@pytest.mark.timeout(10)
@pytest.mark.parametrize("text", ["gsm8k:x", "gsm8k:", ":3", "gsm8k:1:2"])
def test_malformed_benchmark_spec(text):
    with pytest.raises(ConfigError, match="NAME or NAME:SEEDS"):
        parse_benchmarks(text)


@pytest.mark.timeout(10)
def test_unknown_benchmark_lists_known_ones():
    with pytest.raises(ConfigError, match=r"Did you mean 'gsm8k'.*Known:"):
        parse_benchmarks("gsm8kk:0")


def _graph(tmp_path: Path, spec: str, *overrides: str, separate: bool = False):
    cfg = compose_config(EvalConfig, "eval", list(overrides))
    requests = parse_benchmarks(spec)
    data = {r.name: tmp_path / f"{r.name}.jsonl" for r in requests}
    return build_eval_graph(
        requests, cfg, tmp_path / "out", data, ClusterPaths(python="python"), separate_components=separate
    )


def _value(argv, key):
    (found,) = [a.split("=", 1)[1] for a in argv if a.startswith(f"++{key}=")]
    return found.strip("'")


@pytest.mark.timeout(10)
def test_seeds_and_chunks_make_dependent_jobs(tmp_path):
    graph = _graph(tmp_path, "gsm8k:2", "++num_chunks=2")
    names = [job.name for job in graph.jobs]
    assert names == [
        "generate-gsm8k-rs0-chunk0",
        "generate-gsm8k-rs0-chunk1",
        "evaluate-gsm8k-rs0",
        "generate-gsm8k-rs1-chunk0",
        "generate-gsm8k-rs1-chunk1",
        "evaluate-gsm8k-rs1",
        "metrics-gsm8k",
        "summarize",
    ]
    assert graph.get("evaluate-gsm8k-rs1").after_ok == ("generate-gsm8k-rs1-chunk0", "generate-gsm8k-rs1-chunk1")
    assert graph.get("metrics-gsm8k").after_ok == ("evaluate-gsm8k-rs0", "evaluate-gsm8k-rs1")
    assert graph.get("summarize").after_any == ("metrics-gsm8k",)
    argv = graph.get("generate-gsm8k-rs1-chunk1").main.argv
    assert "++inference.random_seed=1" in argv
    assert "++inference.temperature=0.7" in argv  # seeded runs sample
    assert "++chunk_id=1" in argv


@pytest.mark.timeout(10)
def test_greedy_run_uses_temperature_zero_unless_set(tmp_path):
    greedy = _graph(tmp_path, "gsm8k:0").get("generate-gsm8k").main.argv
    assert "++inference.temperature=0.0" in greedy
    hot = _graph(tmp_path, "gsm8k:0", "++inference.temperature=0.6").get("generate-gsm8k").main.argv
    assert "++inference.temperature=0.6" in hot


@pytest.mark.timeout(10)
def test_complete_jobs_are_left_out_and_a_changed_selection_is_not(tmp_path):
    bench_dir = tmp_path / "out" / "eval-results" / "gsm8k"
    bench_dir.mkdir(parents=True)
    stamp = {"max_samples": 5, "num_chunks": 1, "chunk_id": 0}
    (bench_dir / "output.jsonl.done").write_text(json.dumps(stamp))
    names = [j.name for j in _graph(tmp_path, "gsm8k:0", "++max_samples=5").jobs]
    assert names == ["evaluate-gsm8k", "metrics-gsm8k", "summarize"]
    assert _graph(tmp_path, "gsm8k:0", "++max_samples=5").get("evaluate-gsm8k").after_ok == ()
    names = [j.name for j in _graph(tmp_path, "gsm8k:0", "++max_samples=6").jobs]
    assert names[0] == "generate-gsm8k"


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        (None, "null"),
        (True, "true"),
        (3, "3"),
        (0.5, "0.5"),
        ("a'b", "'a\\'b'"),
        (["x", 1], "[x,1]"),
        ("true", "'true'"),
        ("/a/b.jsonl", "/a/b.jsonl"),
        ("a b", "'a b'"),
    ],
)
def test_hydra_values_are_quoted(value, rendered):
    assert hydra_value(value) == rendered


@pytest.mark.timeout(10)
def test_cluster_jobs_run_server_and_sandboxes_as_components_on_their_own_ports(tmp_path):
    graph = _graph(tmp_path, "gsm8k:0,humaneval:0", "++code_execution=true", separate=True)
    generate = graph.get("generate-gsm8k")
    assert [c.name for c in generate.components] == ["server", "sandbox", "main"]
    server, sandbox, main = generate.components
    server_port = int(server.health_url.split(":")[2].split("/")[0])
    sandbox_port = int(sandbox.health_url.split(":")[2].split("/")[0])
    assert _value(main.argv, "server.address") == f"http://127.0.0.1:{server_port}/v1"
    assert _value(main.argv, "sandbox.address") == f"http://127.0.0.1:{sandbox_port}"
    evaluate = graph.get("evaluate-humaneval")
    assert [c.name for c in evaluate.components] == ["sandbox", "main"]
    assert [c.name for c in graph.get("evaluate-gsm8k").components] == ["main"]  # math needs no sandbox
    ports = [
        int(c.health_url.split(":")[2].split("/")[0]) for job in graph.jobs for c in job.components if c.health_url
    ]
    assert len(ports) == len(set(ports)) == 5  # two servers, three sandboxes: no two share a port
    local = _graph(tmp_path, "gsm8k:0", "++code_execution=true").get("generate-gsm8k")
    assert [c.name for c in local.components] == ["main"]  # locally the stage starts them itself
    assert "++code_execution=true" in local.main.argv


@pytest.mark.timeout(10)
def test_judged_benchmarks_get_the_judge_grader_and_only_changed_judge_settings(tmp_path):
    plain = _graph(tmp_path, "mt-bench:0").get("evaluate-mt-bench").main.argv
    assert "++grader=judge" in plain
    assert not [a for a in plain if a.startswith("++judge.")]
    argv = (
        _graph(tmp_path, "mt-bench:0", "++judge.mode=pairwise", "++judge.server.address=http://h:1/v1")
        .get("evaluate-mt-bench")
        .main.argv
    )
    assert "++grader=judge_pairwise" in argv
    assert _value(argv, "judge.server.address") == "http://h:1/v1"
    assert _value(argv, "judge.mode") == "pairwise"
    with pytest.raises(ConfigError, match=r"judge\.mode"):
        _graph(tmp_path, "mt-bench:0", "++judge.mode=ranked")


@pytest.mark.timeout(10)
def test_on_a_cluster_the_judge_server_is_a_component_of_the_evaluate_job(tmp_path):
    graph = _graph(
        tmp_path, "mt-bench:0", "++judge.server.server_type=vllm", "++judge.server.model=/models/judge",
        "++judge.server.gpus=2", separate=True,
    )  # fmt: skip
    evaluate = graph.get("evaluate-mt-bench")
    assert [c.name for c in evaluate.components] == ["judge-server", "main"]
    judge, main = evaluate.components
    assert judge.argv[:3] == ("vllm", "serve", "/models/judge") and evaluate.gpus == 2
    port = int(judge.health_url.split(":")[2].split("/")[0])
    assert _value(main.argv, "judge.server.address") == f"http://127.0.0.1:{port}/v1"
    server_port = int(graph.get("generate-mt-bench").components[0].health_url.split(":")[2].split("/")[0])
    assert port != server_port
    # With an address, or locally, nothing extra is started.
    given = _graph(tmp_path, "mt-bench:0", "++judge.server.address=http://h:1/v1", separate=True)
    assert [c.name for c in given.get("evaluate-mt-bench").components] == ["main"]
    local = _graph(tmp_path, "mt-bench:0", "++judge.server.server_type=vllm", "++judge.server.model=/m")
    assert [c.name for c in local.get("evaluate-mt-bench").components] == ["main"]
