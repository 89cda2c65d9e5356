"""A grader's spec states what it needs (sandbox, judge, log-likelihood server, aggregate metrics); the benchmark
loader, the graph builder, the evaluate stage and metrics ask the spec, so a new grader needs no change to them."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from nemo_pipeline.config import EvalConfig, EvaluateConfig, SandboxConfig, compose_config
from nemo_pipeline.datasets import BENCHMARKS, load_benchmark_file
from nemo_pipeline.evaluation import GRADERS, GraderContext, Verdict, compute_metrics, register_grader
from nemo_pipeline.evaluation.metrics import AGGREGATES, AggregateHook
from nemo_pipeline.evaluation.stages import _sandbox_for, run_evaluate
from nemo_pipeline.jobs import build_eval_graph, parse_benchmarks
from nemo_pipeline.jobs.eval_graph import ClusterPaths
from nemo_pipeline.jsonl import write_jsonl_atomic
from nemo_pipeline.records import GradedLine

RUNS_PROGRAMS = "test-spec-runs-programs"
COUNTS_WORDS = "test-spec-counts-words"


def _grade_nothing(item: Mapping[str, Any], context: GraderContext) -> Verdict:
    return Verdict(False, None, "not graded in this test")


def _words(records: Sequence[GradedLine]) -> Mapping[str, float]:
    return {"words_total": sum(r.grading.scores["words"] for r in records)}


@pytest.fixture
def new_graders() -> Iterator[None]:
    """Two graders registered as a plug-in module would register them, removed again afterwards."""
    register_grader(RUNS_PROGRAMS, needs_sandbox=True)(_grade_nothing)
    register_grader(COUNTS_WORDS, aggregate=AggregateHook("words", _words, headline="words_total"))(_grade_nothing)
    try:
        yield
    finally:
        for name in (RUNS_PROGRAMS, COUNTS_WORDS):
            GRADERS._entries.pop(name)
        AGGREGATES._entries.pop(COUNTS_WORDS)


@pytest.mark.timeout(10)
def test_the_built_in_specs_say_what_the_name_lists_said() -> None:
    specs = {name: GRADERS.get(name) for name in GRADERS}
    assert {n for n, s in specs.items() if s.needs_sandbox} == {"code", "code-extract", "mbpp", "mbpp-extract"}
    assert {n: s.judge for n, s in specs.items() if s.needs_judge} == {
        "judge": "single",
        "judge_pairwise": "pairwise",
        "mt-bench": "mt-bench",
        "mt-bench-101": "mt-bench-101",
    }
    assert {n for n, s in specs.items() if s.needs_loglik_server} == {"loglik"}
    assert {n for n, s in specs.items() if s.aggregate is not None} == {"ifeval", "loglik", "mt-bench", "mt-bench-101"}
    assert all(AGGREGATES.get(n) is s.aggregate for n, s in specs.items() if s.aggregate is not None)
    # the spec grades: the registry's entry is called as the function was
    assert GRADERS.get("math")({"generation": "#### 4", "expected_answer": "4"}, GraderContext()).correct is True


@pytest.mark.timeout(10)
def test_a_new_grader_that_needs_a_sandbox_gets_one_in_the_stage_and_the_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_graders: None
) -> None:
    data = tmp_path / "cases.jsonl"
    data.write_text(json.dumps({"q": "Write f.", "a": "ok"}) + "\n")
    spec = {"name": "tiny-programs", "data": data.name, "grader": RUNS_PROGRAMS, "prompt_config": "generic/math"}
    spec["fields"] = {"problem": "q", "expected_answer": "a"}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(spec))
    bench = load_benchmark_file(tmp_path / "tiny.yaml")
    assert bench.needs_sandbox is True  # the YAML file did not say so: the grader's spec did

    given = SandboxConfig(address="http://127.0.0.1:9")
    with _sandbox_for(RUNS_PROGRAMS, given, tmp_path, workers=1) as url:
        assert url == "http://127.0.0.1:9"
    with _sandbox_for("math", given, tmp_path, workers=1) as url:
        assert url is None

    monkeypatch.setitem(BENCHMARKS._entries, bench.name, bench)
    cfg = compose_config(EvalConfig, "eval", [])
    graph = build_eval_graph(
        parse_benchmarks("tiny-programs:0,gsm8k:0"),
        cfg,
        tmp_path / "out",
        {"tiny-programs": data, "gsm8k": tmp_path / "gsm8k.jsonl"},
        ClusterPaths(python="python"),
        separate_components=True,
    )
    assert [c.name for c in graph.get("evaluate-tiny-programs").components] == ["sandbox", "main"]
    assert [c.name for c in graph.get("evaluate-gsm8k").components] == ["main"]


@pytest.mark.timeout(10)
def test_a_new_graders_aggregate_joins_its_metrics(new_graders: None) -> None:
    records = [
        {"id": f"q{i}", "is_correct": i == 0, "predicted_answer": "x", "scores": {"words": float(n)}}
        for i, n in enumerate((3, 4))
    ]
    metrics = compute_metrics({None: records}, benchmark="tiny-words")
    assert metrics["metrics"]["all"]["words_total"] == 7.0
    assert metrics["headline"] == "words_total"
    plain = [{**r, "scores": {}} for r in records]  # records without the grader's mark: no aggregate
    assert "words_total" not in compute_metrics({None: plain}, benchmark="tiny-words")["metrics"]["all"]


@pytest.mark.timeout(120)
def test_run_by_hand_the_stage_starts_the_sandbox_its_grader_needs_and_logs_beside_the_output(tmp_path: Path) -> None:
    path = tmp_path / "eval-results" / "humaneval" / "output.jsonl"
    path.parent.mkdir(parents=True)
    item = {"id": "f-1", "problem": "p", "expected_answer": "", "prompt": "def f():\n", "entry_point": "f",
            "test": "def check(c):\n    assert c() == 1\n", "generation": "    return 1\n"}  # fmt: skip
    write_jsonl_atomic(path, [item])
    cfg = EvaluateConfig(input_files=[str(path)], grader="code")  # no sandbox.address, no log_dir
    cfg.grading.workers = 1
    (result,) = run_evaluate(cfg)
    assert (result.graded, result.correct) == (1, 1)
    assert (path.parent / "logs" / "sandbox.log").is_file()  # layout.stage_log_dir: logs/ beside the output
