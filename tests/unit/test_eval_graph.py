"""The evaluation job graph: shape, dependencies, and skipping what is complete."""

import json
import re
from pathlib import Path

import pytest

from nemo_pipeline.config import EvalConfig, compose_config
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.jobs import build_eval_graph, parse_benchmarks
from nemo_pipeline.jobs.eval_graph import ClusterPaths, hydra_value
from nemo_pipeline.jobs.ports import placeholder_names, port_placeholder


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
def test_one_server_job_per_model_by_default_for_every_seed_and_chunk(tmp_path):
    graph = _graph(tmp_path, "gsm8k:2", "++num_chunks=2")
    assert [job.name for job in graph.jobs] == ["generate", "evaluate-gsm8k", "metrics-gsm8k", "summarize"]
    generate = graph.get("generate")
    assert generate.outputs == tuple(
        f"eval-results/gsm8k/output-rs{s}-chunk{c}.jsonl" for s in range(2) for c in range(2)
    )
    assert graph.get("evaluate-gsm8k").after_ok == ("generate",)
    assert graph.get("metrics-gsm8k").after_ok == ("evaluate-gsm8k",)
    assert graph.get("summarize").after_any == ("metrics-gsm8k",)
    tasks = json.loads(Path(_value(generate.main.argv, "tasks_file")).read_text())
    assert len(tasks) == 4
    last = tasks[-1]
    assert "++inference.random_seed=1" in last
    assert "++inference.temperature=0.7" in last  # seeded runs sample
    assert "++chunk_id=1" in last and "++num_chunks=2" in last
    evaluate = graph.get("evaluate-gsm8k").main.argv
    assert "++num_chunks=2" in evaluate
    assert _value(evaluate, "input_files").count("output-rs") == 2


@pytest.mark.timeout(10)
def test_num_jobs_splits_the_tasks_and_each_benchmark_waits_only_for_its_own(tmp_path):
    graph = _graph(tmp_path, "gsm8k:4,aime25:2", "++num_jobs=2")
    generate = [job for job in graph.jobs if job.name.startswith("generate")]
    assert [job.name for job in generate] == ["generate-0", "generate-1"]
    outputs = [set(job.outputs) for job in generate]
    assert outputs[0] | outputs[1] == {
        *(f"eval-results/gsm8k/output-rs{s}.jsonl" for s in range(4)),
        *(f"eval-results/aime25/output-rs{s}.jsonl" for s in range(2)),
    }
    assert not outputs[0] & outputs[1]
    for bench in ("gsm8k", "aime25"):
        holders = tuple(job.name for job in generate if any(f"/{bench}/" in o for o in job.outputs))
        evaluate = graph.get(f"evaluate-{bench}")
        assert evaluate.dependencies == holders
        # a server job shared with another benchmark may fail for that one's sake: wait for its end, not its success
        shared = tuple(job.name for job in generate if len({o.split("/")[1] for o in job.outputs}) > 1)
        assert evaluate.after_any == tuple(h for h in holders if h in shared)
        assert "++require_generated=true" in evaluate.main.argv
    every = _graph(tmp_path, "gsm8k:2,aime25:0", "++num_jobs=0")
    names = [job.name for job in every.jobs if job.name.startswith("generate")]
    assert names == ["generate-gsm8k-rs0", "generate-gsm8k-rs1", "generate-aime25"]


@pytest.mark.timeout(10)
def test_greedy_run_uses_temperature_zero_unless_set(tmp_path):
    greedy = _graph(tmp_path, "gsm8k:0").get("generate-gsm8k").main.argv
    assert "++inference.temperature=0.0" in greedy
    hot = _graph(tmp_path, "gsm8k:0", "++inference.temperature=0.6").get("generate-gsm8k").main.argv
    assert "++inference.temperature=0.6" in hot


def _done(out: Path, bench: str, name: str, max_samples: int, ids: list[str]) -> Path:
    bench_dir = out / "eval-results" / bench
    bench_dir.mkdir(parents=True, exist_ok=True)
    stamp = {"max_samples": max_samples, "num_chunks": 1, "chunk_id": 0, "ids": ids}
    (bench_dir / f"{name}.done").write_text(json.dumps(stamp))
    return bench_dir / name


@pytest.mark.timeout(10)
def test_complete_jobs_are_left_out_and_a_changed_selection_is_not(tmp_path):
    _done(tmp_path / "out", "gsm8k", "output.jsonl", 5, [f"i{n}" for n in range(5)])
    names = [j.name for j in _graph(tmp_path, "gsm8k:0", "++max_samples=5").jobs]
    assert names == ["evaluate-gsm8k", "metrics-gsm8k", "summarize"]
    assert _graph(tmp_path, "gsm8k:0", "++max_samples=5").get("evaluate-gsm8k").after_ok == ()
    names = [j.name for j in _graph(tmp_path, "gsm8k:0", "++max_samples=6").jobs]
    assert names[0] == "generate-gsm8k"


@pytest.mark.timeout(10)
def test_graded_and_summarized_steps_are_left_out_only_while_their_stamps_match(tmp_path):
    from nemo_pipeline.layout import RunLayout, grading_stamp, metrics_stamp, write_marker, write_summary_stamp

    out = tmp_path / "out"
    ids = [f"i{n}" for n in range(5)]
    output = _done(out, "gsm8k", "output.jsonl", 5, ids)
    output.write_text("")
    write_marker(output.with_name("output.jsonl.graded"), {**grading_stamp("gsm8k", None, ids), "ids": ids})
    run = RunLayout(out)
    run.metrics_file("gsm8k").write_text("{}")
    write_marker(run.metrics_stamp_file("gsm8k"), metrics_stamp([output]))
    write_summary_stamp(out)
    assert [j.name for j in _graph(tmp_path, "gsm8k:0", "++max_samples=5").jobs] == []  # nothing to submit
    run.metrics_file("gsm8k").write_text('{"changed": 1}')  # metrics changed by hand: summarize again
    assert [j.name for j in _graph(tmp_path, "gsm8k:0", "++max_samples=5").jobs] == ["summarize"]
    write_marker(output.with_name("output.jsonl.graded"), {**grading_stamp("mcq", None, ids), "ids": ids})
    names = [j.name for j in _graph(tmp_path, "gsm8k:0", "++max_samples=5").jobs]
    assert names == ["evaluate-gsm8k", "metrics-gsm8k", "summarize"]  # graded by another grader: grade again


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
    graph = _graph(tmp_path, "gsm8k:0,humaneval:0", "++code_execution=true", "++num_jobs=0", separate=True)
    generate = graph.get("generate-gsm8k")
    assert [c.name for c in generate.components] == ["server", "sandbox", "main"]
    server, sandbox, main = generate.components
    # Each listens on a port the job chooses when it starts: one placeholder per component, which its client names.
    server_port, sandbox_port = port_placeholder("server"), port_placeholder("sandbox")
    assert server.health_url == f"http://127.0.0.1:{server_port}/health" and server_port in server.argv
    assert sandbox.health_url == f"http://127.0.0.1:{sandbox_port}/health" and sandbox_port in sandbox.argv
    assert _value(main.argv, "server.address") == f"http://127.0.0.1:{server_port}/v1"
    assert _value(main.argv, "sandbox.address") == f"http://127.0.0.1:{sandbox_port}"
    evaluate = graph.get("evaluate-humaneval")
    assert [c.name for c in evaluate.components] == ["sandbox", "main"]
    assert [c.name for c in graph.get("evaluate-gsm8k").components] == ["main"]  # math needs no sandbox
    for job in graph.jobs:  # no fixed port anywhere: every port is chosen on the node
        tokens = [token for c in job.components for token in c.argv]
        assert not [t for t in tokens if re.search(r"127\.0\.0\.1:\d", t)], job.name
        listening = [c.argv[c.argv.index("--port") + 1] for c in job.components if "--port" in c.argv]
        assert listening == [port_placeholder(c.name) for c in job.components if c.health_url], job.name
        names = placeholder_names(tokens)
        assert len(names) == len({c.name for c in job.components if c.health_url}), job.name
    grouped = _graph(tmp_path, "gsm8k:0,humaneval:0", "++code_execution=true", separate=True)
    assert [c.name for c in grouped.get("generate").components] == ["server", "sandbox", "main"]  # one of each
    local = _graph(tmp_path, "gsm8k:0", "++code_execution=true").get("generate-gsm8k")
    assert [c.name for c in local.components] == ["main"]  # locally the stage starts them itself
    assert "++code_execution=true" in local.main.argv


@pytest.mark.timeout(10)
def test_judged_benchmarks_get_the_judge_grader_and_only_changed_judge_settings(tmp_path):
    official = _graph(tmp_path, "mt-bench:0")
    plain = official.get("evaluate-mt-bench").main.argv
    assert "++grader=mt-bench" in plain  # FastChat's protocol by default
    assert not [a for a in plain if a.startswith("++judge.")]
    assert not [a for a in official.get("metrics-mt-bench").main.argv if a.startswith("++protocol")]
    # The project's judge prompts are an opt-in protocol; its graders follow judge.mode, and metrics record it.
    variant = _graph(tmp_path, "mt-bench:0", "++protocol=project-judge")
    assert "++grader=judge" in variant.get("evaluate-mt-bench").main.argv
    assert "++protocol=project-judge" in variant.get("metrics-mt-bench").main.argv
    with pytest.raises(ConfigError, match=r"protocol.*no protocol 'lenient'.*official, project-judge"):
        _graph(tmp_path, "mt-bench:0", "++protocol=lenient")
    argv = (
        _graph(tmp_path, "mt-bench:0", "++protocol=project-judge", "++judge.mode=pairwise",
               "++judge.server.address=http://h:1/v1")
        .get("evaluate-mt-bench")
        .main.argv
    )  # fmt: skip
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
    assert judge.argv[1:5] == ("-m", "vllm.entrypoints.openai.api_server", "--model", "/models/judge")
    assert evaluate.gpus == 2
    port = port_placeholder("judge-server")
    assert judge.health_url == f"http://127.0.0.1:{port}/health" and port in judge.argv
    assert _value(main.argv, "judge.server.address") == f"http://127.0.0.1:{port}/v1"
    assert port_placeholder("server") in graph.get("generate-mt-bench").components[0].argv
    # With an address, or locally, nothing extra is started.
    given = _graph(tmp_path, "mt-bench:0", "++judge.server.address=http://h:1/v1", separate=True)
    assert [c.name for c in given.get("evaluate-mt-bench").components] == ["main"]
    local = _graph(tmp_path, "mt-bench:0", "++judge.server.server_type=vllm", "++judge.server.model=/m")
    assert [c.name for c in local.get("evaluate-mt-bench").components] == ["main"]


@pytest.mark.timeout(10)
def test_a_server_job_asks_for_the_server_gpus_whatever_starts_it(tmp_path):
    cluster = _graph(tmp_path, "gsm8k:2", "++server.server_type=vllm", "++server.model=/m", "++server.gpus=4",
                     separate=True)  # fmt: skip
    assert cluster.get("generate").gpus == 4 and cluster.get("generate").components[0].name == "server"
    local = _graph(tmp_path, "gsm8k:0", "++server.server_type=vllm", "++server.model=/m", "++server.gpus=4")
    assert local.get("generate-gsm8k").gpus == 4
    remote = _graph(tmp_path, "gsm8k:0", "++server.server_type=openai", "++server.address=http://h:1/v1",
                    "++server.gpus=4", separate=True)  # fmt: skip
    assert remote.get("generate-gsm8k").gpus == 0
