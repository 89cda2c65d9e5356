"""The typed run records: written and read by one class, versioned, and old run directories still read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nemo_pipeline.config import EvaluateConfig, MetricsConfig
from nemo_pipeline.errors import DataError
from nemo_pipeline.evaluation.stages import run_compute_metrics, run_evaluate
from nemo_pipeline.records import (
    CLIENT_SCHEMA_VERSION,
    METRICS_SCHEMA_VERSION,
    RUN_SCHEMA_VERSION,
    ClientReport,
    Grading,
    MetricsRecord,
    RunRecord,
    UnreadableRecordError,
    is_graded,
    read_client_report,
    read_metrics,
    read_run_record,
    write_client_report,
    write_metrics,
    write_run_record,
)
from nemo_pipeline.report import load_run, read_graded_items


def _run_record() -> RunRecord:
    return RunRecord(
        command="python pipeline/eval.py ++benchmarks=gsm8k:0",
        name="small",
        model="/models/small",
        server_type="vllm",
        benchmarks=("gsm8k:0", "math:4"),
        cluster="local",
        cost_per_gpu_hour=2.5,
        config={"server.port": 5000, "max_samples": None},
        overrides=("++server.server_args=--dtype=half",),
        published="Llama-3.1-8B",
        published_file=None,
    )


def test_run_record_round_trips_with_its_version(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    record = _run_record()
    write_run_record(path, record)
    data = json.loads(path.read_text())
    assert data["schema_version"] == RUN_SCHEMA_VERSION == 1
    assert list(data) == [
        "command",
        "name",
        "model",
        "server_type",
        "benchmarks",
        "cluster",
        "cost_per_gpu_hour",
        "config",
        "overrides",
        "published",
        "published_file",
        "schema_version",
    ]
    assert read_run_record(path) == record
    single = RunRecord(command="c", model="m", server_type="openai")  # not a campaign model: no overrides written
    write_run_record(path, single)
    assert "overrides" not in json.loads(path.read_text()) and "published" not in json.loads(path.read_text())
    assert read_run_record(path) == single


def test_run_record_written_before_versions_reads_as_version_1(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"model": "/models/old", "benchmarks": ["gsm8k:0"]}))
    record = read_run_record(path)
    assert (record.schema_version, record.model, record.benchmarks, record.overrides) == (
        1,
        "/models/old",
        ("gsm8k:0",),
        None,
    )


def test_run_record_errors_name_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"model": "m", "schema_version": RUN_SCHEMA_VERSION + 1}))
    with pytest.raises(DataError, match=r"run\.json: schema_version 2 is newer than this nemo-pipeline reads \(1\)"):
        read_run_record(path)
    path.write_text(json.dumps({"model": "m", "overrides": "++a=1"}))
    with pytest.raises(DataError, match=r"run\.json: 'overrides' should be a list of strings"):
        read_run_record(path)
    path.write_text("[1, 2]")
    with pytest.raises(UnreadableRecordError, match=r"run\.json: expected a JSON object"):
        read_run_record(path)
    with pytest.raises(UnreadableRecordError, match=r"missing\.json: cannot read it"):
        read_run_record(tmp_path / "missing.json")


def test_metrics_record_round_trips_with_its_version(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    record = MetricsRecord(
        benchmark="mt-bench",
        num_seeds=0,
        metrics={"all": {"num_entries": 2, "accuracy": 50.0}, "writing": {"num_entries": 1, "accuracy": 100.0}},
        protocol="judge",
        headline="accuracy",
    )
    write_metrics(path, record)
    data = json.loads(path.read_text())
    assert data["schema_version"] == METRICS_SCHEMA_VERSION == 1
    assert sorted(data) == ["benchmark", "headline", "metrics", "num_seeds", "protocol", "schema_version"]
    assert read_metrics(path) == record
    plain = MetricsRecord("gsm8k", 4, {"all": {"pass@1": 75.0}})
    write_metrics(path, plain)
    assert "headline" not in json.loads(path.read_text())
    assert read_metrics(path) == plain


def test_metrics_written_before_versions_still_read(tmp_path: Path) -> None:
    """A run directory from before schema versions, protocols and headlines: the report still shows it."""
    bench = tmp_path / "old" / "eval-results" / "gsm8k"
    bench.mkdir(parents=True)
    old = {"benchmark": "gsm8k", "num_seeds": 0, "metrics": {"all": {"accuracy": 40.0, "num_entries": 10}}}
    (bench / "metrics.json").write_text(json.dumps(old))
    record = read_metrics(bench / "metrics.json")
    assert (record.schema_version, record.protocol, record.headline) == (1, "official", None)
    run = load_run(tmp_path / "old").benchmarks["gsm8k"]
    assert run.ok and run.metrics is not None and run.metrics["all"]["accuracy"] == 40.0


def test_metrics_from_a_newer_version_fail_naming_the_file(tmp_path: Path) -> None:
    bench = tmp_path / "new" / "eval-results" / "gsm8k"
    bench.mkdir(parents=True)
    newer = {"schema_version": METRICS_SCHEMA_VERSION + 1, "results": {}}
    (bench / "metrics.json").write_text(json.dumps(newer))
    with pytest.raises(DataError, match=r"gsm8k/metrics\.json: schema_version 2 is newer than this nemo-pipeline"):
        read_metrics(bench / "metrics.json")
    run = load_run(tmp_path / "new").benchmarks["gsm8k"]  # the report says why instead of misreading it
    assert not run.ok and "metrics.json: schema_version 2 is newer" in run.problem
    (bench / "metrics.json").write_text(json.dumps({"schema_version": "1", "metrics": {"all": {}}}))
    with pytest.raises(DataError, match=r"metrics\.json: 'schema_version' should be a positive integer, got '1'"):
        read_metrics(bench / "metrics.json")


def test_compute_metrics_stage_writes_the_record_it_returns(tmp_path: Path) -> None:
    bench = tmp_path / "eval-results" / "gsm8k"
    bench.mkdir(parents=True)
    items = [
        {"id": "1", "generation": "2", "expected_answer": "2", "predicted_answer": "2", "is_correct": True},
        {"id": "2", "generation": "x", "expected_answer": "3", "predicted_answer": None, "is_correct": False},
    ]
    (bench / "output.jsonl").write_text("".join(json.dumps(item) + "\n" for item in items))
    returned = run_compute_metrics(MetricsConfig(benchmark_dir=str(bench), protocol="official"))
    record = read_metrics(bench / "metrics.json")
    assert record.to_json() == returned
    assert (record.benchmark, record.num_seeds, record.schema_version) == ("gsm8k", 0, METRICS_SCHEMA_VERSION)
    assert (record.metrics["all"]["num_entries"], record.metrics["all"]["accuracy"]) == (2, 50.0)


def test_grading_round_trips_and_reads_old_lines_leniently() -> None:
    grading = Grading(is_correct=False, predicted_answer="7", grading_reason="mismatch", scores={"strict": 0.5})
    line = {"id": "1", "generation": "7", **grading.to_json()}
    assert list(grading.to_json()) == ["predicted_answer", "is_correct", "grading_reason", "scores"]
    assert is_graded(line) and Grading.of(line) == grading
    assert not is_graded({"id": "2"}) and Grading.of({"id": "2"}) is None
    assert Grading.of({"is_correct": None}) is None  # not a verdict: the report counts it as ungraded
    odd = Grading.of({"is_correct": True, "predicted_answer": 12, "scores": {"a": 1, "b": "x", "c": float("nan")}})
    assert odd == Grading(is_correct=True, predicted_answer="12", grading_reason="", scores={"a": 1.0})


def test_evaluate_stage_writes_the_grading_that_the_report_reads(tmp_path: Path) -> None:
    bench = tmp_path / "eval-results" / "gsm8k"
    bench.mkdir(parents=True)
    items = [
        {"id": "1", "problem": "1+1?", "expected_answer": "2", "generation": "The answer is \\boxed{2}"},
        {"id": "2", "problem": "1+2?", "expected_answer": "3", "generation": "no idea"},
    ]
    (bench / "output.jsonl").write_text("".join(json.dumps(item) + "\n" for item in items))
    run_evaluate(EvaluateConfig(input_files=[str(bench / "output.jsonl")], grader="math"))
    lines = [json.loads(line) for line in (bench / "output.jsonl").read_text().splitlines()]
    verdicts = [Grading.of(line) for line in lines]
    assert [(g.is_correct, g.predicted_answer) for g in verdicts if g is not None] == [(True, "2"), (False, None)]
    graded, warnings = read_graded_items(bench / "output.jsonl")
    assert warnings == [] and [(i.correct, i.predicted, i.reason) for i in graded] == [
        (g.is_correct, g.predicted_answer, g.grading_reason) for g in verdicts if g is not None
    ]


def test_client_report_round_trips_and_a_missing_key_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "output.jsonl.client.json"
    report = ClientReport(
        output_file="output.jsonl",
        mode="adaptive",
        limit_settled=12,
        limit_peak=40,
        peak_in_flight=38,
        items=5,
        items_written=4,
        items_failed=1,
        failed_ids=["7"],
        requests=9,
        retried=2,
        retries={"http_429": 2},
        seconds=1.5,
        items_per_s=2.7,
    )
    write_client_report(path, report)
    assert json.loads(path.read_text())["schema_version"] == CLIENT_SCHEMA_VERSION == 1
    assert read_client_report(path) == report
    old = {k: v for k, v in report.to_json().items() if k != "schema_version"}
    path.write_text(json.dumps(old))  # written before versions were recorded
    assert read_client_report(path) == report
    path.write_text(json.dumps({k: v for k, v in old.items() if k != "requests"}))
    with pytest.raises(DataError, match=r"client\.json: no 'requests'"):
        read_client_report(path)
    path.write_text(json.dumps({**old, "schema_version": 2}))
    with pytest.raises(DataError, match="schema_version 2 is newer"):
        read_client_report(path)
