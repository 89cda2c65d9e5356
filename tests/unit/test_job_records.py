"""The records a run's jobs leave (job.json, cancelled.json, local-status.json) and its plan.json: written and read
by one class, versioned, and the files of an older run still read."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from nemo_pipeline.errors import DataError
from nemo_pipeline.jobs import JobState, attach_run, load_cluster_spec, record_submission
from nemo_pipeline.jobs.docker import DockerBackend, DockerClusterConfig
from nemo_pipeline.jobs.local import JobOutcome, LocalBackend, local_status_report
from nemo_pipeline.jobs.supervise import ComponentSpec, RecordSpec, SupervisorSpec, supervise
from nemo_pipeline.layout import RunLayout, cancelled_marker, job_record_path
from nemo_pipeline.records import (
    CANCELLED_SCHEMA_VERSION,
    JOB_SCHEMA_VERSION,
    LOCAL_STATUS_SCHEMA_VERSION,
    PLAN_SCHEMA_VERSION,
    SUBMITTED_SCHEMA_VERSION,
    CancelledRecord,
    JobRecord,
    LocalJobStatus,
    LocalStatusRecord,
    PlanRecord,
    SubmittedRecord,
    UnreadableRecordError,
    read_cancelled_record,
    read_job_record,
    read_local_status,
    read_plan_record,
    read_submitted_record,
    write_cancelled_record,
    write_job_record,
    write_local_status,
    write_plan_record,
    write_submitted_record,
)
from nemo_pipeline.report import run_cost

# A job.json as nemo-pipeline wrote it before records carried a schema version.
OLD_JOB_JSON = (
    '{"benchmark": null, "ended_at": 1700000100.5, "gpus": 8, "job": "generate-0", "started_at": 1700000000.0, '
    '"state": "COMPLETED", "tasks": ["eval-results/gsm8k/output.jsonl"], "wall_s": 100.5}\n'
)


def _record() -> JobRecord:
    return JobRecord("generate-0", "FAILED", 90.25, 4, "gsm8k", 10.0, 100.25, ["eval-results/gsm8k/output-rs0.jsonl"])


def test_job_record_round_trips_with_its_version(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "generate-0" / "job.json"
    write_job_record(path, _record())
    data = json.loads(path.read_text())
    assert data["schema_version"] == JOB_SCHEMA_VERSION == 1
    assert list(data) == sorted(data)  # compact and key-sorted, as job.json always was
    assert path.read_text().endswith("}\n") and "\n" not in path.read_text()[:-1]
    assert read_job_record(path) == _record()
    assert read_job_record(path).gpu_hours == 4 * 90.25 / 3600


def test_an_old_job_json_without_a_version_reads_as_version_1(tmp_path: Path) -> None:
    run = RunLayout(tmp_path)
    path = run.job_record_file("generate-0")
    path.parent.mkdir(parents=True)
    path.write_text(OLD_JOB_JSON)
    tasks = ["eval-results/gsm8k/output.jsonl"]
    expected = JobRecord("generate-0", "COMPLETED", 100.5, 8, None, 1700000000.0, 1700000100.5, tasks)
    assert read_job_record(path) == expected and expected.schema_version == 1
    assert run.job_records() == [expected]


def test_a_job_json_needs_only_job_state_and_wall_time(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps({"job": "summarize", "state": "COMPLETED", "wall_s": 3, "extra": "kept out"}))
    assert read_job_record(path) == JobRecord("summarize", "COMPLETED", 3)


def test_a_newer_job_json_is_a_one_line_error_naming_the_file(tmp_path: Path) -> None:
    run = RunLayout(tmp_path)
    path = run.job_record_file("generate-0")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({**json.loads(OLD_JOB_JSON), "schema_version": JOB_SCHEMA_VERSION + 1}))
    for read in (lambda: read_job_record(path), run.job_records):
        with pytest.raises(DataError) as caught:
            read()
        message = str(caught.value)
        assert message.startswith(f"{path}: schema_version 2 is newer") and "\n" not in message


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"job": None}, "job"),
        ({"state": ""}, "state"),
        ({"wall_s": "100"}, "wall_s"),
        ({"wall_s": float("nan")}, "wall_s"),
        ({"gpus": -1}, "gpus"),
        ({"gpus": 1.5}, "gpus"),
        ({"benchmark": 3}, "benchmark"),
        ({"started_at": True}, "started_at"),
        ({"tasks": "eval-results/gsm8k/output.jsonl"}, "tasks"),
        ({"schema_version": "1"}, "schema_version"),
    ],
)
def test_a_bad_key_is_an_error_naming_the_file_and_the_key(tmp_path: Path, change: dict, key: str) -> None:
    run = RunLayout(tmp_path)
    path = run.job_record_file("generate-0")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({**json.loads(OLD_JOB_JSON), **change}))
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: '{key}' should be") as caught:
        run.job_records()  # the summary's reader fails as the record's own does
    assert not isinstance(caught.value, UnreadableRecordError)


def test_job_records_leave_out_a_job_json_that_is_not_an_object(tmp_path: Path) -> None:
    run = RunLayout(tmp_path)
    assert run.job_records() == []  # no logs folder yet
    for job, text in (("cut", '{"job": "cut", "sta'), ("list", "[1, 2]"), ("empty", "")):
        path = run.job_record_file(job)
        path.parent.mkdir(parents=True)
        path.write_text(text)
        with pytest.raises(UnreadableRecordError, match=rf"^{re.escape(str(path))}: "):
            read_job_record(path)
    write_job_record(run.job_record_file("generate-0"), _record())
    assert run.job_records() == [_record()]  # as a job that never ended: left out, as before


def test_the_supervisor_writes_a_versioned_job_record(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "evaluate-gsm8k" / "job.json"
    spec = SupervisorSpec(
        "evaluate-gsm8k",
        path.parent,
        (ComponentSpec("main", (sys.executable, "-c", "pass")),),
        record=RecordSpec(path, 0, "gsm8k", ("eval-results/gsm8k/output.jsonl",)),
    )
    assert supervise(spec) == 0
    record = read_job_record(path)
    assert (record.job, record.state, record.benchmark, record.tasks) == (
        "evaluate-gsm8k",
        "COMPLETED",
        "gsm8k",
        ["eval-results/gsm8k/output.jsonl"],
    )
    assert json.loads(path.read_text())["schema_version"] == 1 and record.ended_at >= record.started_at > 0


# -- cancelled.json: why the docker backend cancelled a job before it ran -------------------------------------------


def test_cancelled_record_round_trips_and_an_old_one_reads(tmp_path: Path) -> None:
    path = cancelled_marker(tmp_path / "logs" / "evaluate-gsm8k")
    write_cancelled_record(path, CancelledRecord("dependency failed: ['generate']"))
    assert json.loads(path.read_text()) == {"reason": "dependency failed: ['generate']", "schema_version": 1}
    assert read_cancelled_record(path) == CancelledRecord("dependency failed: ['generate']")
    path.write_text('{"reason": "dependency failed: [\'generate\']"}\n')  # written before versions were recorded
    assert read_cancelled_record(path) == CancelledRecord("dependency failed: ['generate']", CANCELLED_SCHEMA_VERSION)
    path.write_text(json.dumps({"reason": "x", "schema_version": CANCELLED_SCHEMA_VERSION + 1}))
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: schema_version 2 is newer"):
        read_cancelled_record(path)
    path.write_text(json.dumps({"reason": ["x"]}))
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: 'reason' should be a string"):
        read_cancelled_record(path)


def test_the_docker_backend_attaches_to_cancelled_and_ended_jobs(tmp_path: Path) -> None:
    logs = RunLayout(tmp_path).logs_dir
    write_job_record(job_record_path(logs / "generate"), JobRecord("generate", "FAILED", 3.0))
    (logs / "evaluate").mkdir()
    cancelled_marker(logs / "evaluate").write_text('{"reason": "dependency failed: [\'generate\']"}\n')  # an old one
    job_record_path(logs / "summarize").parent.mkdir()
    job_record_path(logs / "summarize").write_text('{"job": "summ')  # cut off: as a job that never ended
    ids = {name: str(logs / name) for name in ("generate", "evaluate", "summarize")}
    handle = DockerBackend(DockerClusterConfig()).attach(tmp_path, ids)
    assert handle.outcomes["generate"].state is JobState.FAILED
    assert handle.outcomes["evaluate"].state is JobState.CANCELLED
    assert handle.outcomes["evaluate"].reason == "dependency failed: ['generate']"
    assert "summarize" not in handle.outcomes


# -- jobs/local-status.json: every job's state as a local run goes --------------------------------------------------

# A local-status.json as the local backend wrote it before records carried a schema version (its process is gone).
OLD_LOCAL_STATUS = {
    "pid": 0,
    "jobs": {
        "generate-gsm8k": {"state": "COMPLETED", "seconds": 12.5, "exit_code": 0, "log": "/out/main.log", "reason": ""},
        "evaluate-gsm8k": {"state": "RUNNING", "seconds": 0.0, "exit_code": None, "log": None, "reason": ""},
        "metrics-gsm8k": {"state": "PENDING"},
    },
}


def test_local_status_round_trips_and_an_old_one_reads(tmp_path: Path) -> None:
    path = RunLayout(tmp_path).local_status
    record = LocalStatusRecord(
        4321,
        {
            "generate": LocalJobStatus("FAILED", 2.5, 1, "/out/logs/generate/main.log", "exit code 1"),
            "summarize": LocalJobStatus("PENDING"),
        },
    )
    write_local_status(path, record)
    assert json.loads(path.read_text())["schema_version"] == LOCAL_STATUS_SCHEMA_VERSION == 1
    assert read_local_status(path) == record
    path.write_text(json.dumps(OLD_LOCAL_STATUS, indent=2) + "\n")
    old = read_local_status(path)
    assert old.jobs["metrics-gsm8k"] == LocalJobStatus("PENDING") and old.jobs["generate-gsm8k"].seconds == 12.5
    text, code = local_status_report(tmp_path) or ("", -1)
    assert code == 1  # its process is gone with jobs unfinished: interrupted
    assert text.splitlines() == [
        f"{'generate-gsm8k':<32} COMPLETED  log: /out/main.log",
        f"{'evaluate-gsm8k':<32} INTERRUPTED",
        f"{'metrics-gsm8k':<32} INTERRUPTED",
        "the run was stopped before these jobs ended; rerun the same eval.py command to resume",
    ]
    run = LocalBackend(echo=False).attach(tmp_path, {})
    assert run.outcomes["generate-gsm8k"] == JobOutcome(
        "generate-gsm8k", JobState.COMPLETED, 12.5, 0, Path("/out/main.log"), ""
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema_version": 2}, "schema_version 2 is newer"),
        ({"jobs": []}, "'jobs' should be an object"),
        ({"pid": "1"}, "'pid' should be a non-negative integer"),
        ({"jobs": {"generate": {"seconds": 1}}}, "jobs['generate']: 'state' should be a non-empty string"),
        ({"jobs": {"generate": {"state": "FAILED", "exit_code": "1"}}}, "jobs['generate']: 'exit_code' should be"),
        ({"jobs": {"generate": {"state": "FAILED", "log": 7}}}, "jobs['generate']: 'log' should be a string"),
    ],
)
def test_a_bad_local_status_is_an_error_naming_the_file_and_the_key(tmp_path: Path, change: dict, message: str) -> None:
    path = RunLayout(tmp_path).local_status
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({**OLD_LOCAL_STATUS, **change}))
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: {re.escape(message)}") as caught:
        local_status_report(tmp_path)  # status.py's reader fails as the record's own does
    assert "\n" not in str(caught.value)


# -- plan.json: the launch plan's estimate of the jobs a run started -----------------------------------------------

# A plan.json as eval.py wrote it before records carried a schema version.
OLD_PLAN = (
    '{"basis": "measured", "cost_per_gpu_hour": 2.0, "created_at": 1000.0, "elapsed_s": 400.0, "gpu_hours": 0.5, '
    '"guess": false, "jobs": {"evaluate-gsm8k": 100.0, "generate": 300.0}}\n'
)


def test_plan_record_round_trips(tmp_path: Path) -> None:
    path = RunLayout(tmp_path).plan_record
    record = PlanRecord(1000.0, {"generate": 300.0, "evaluate-gsm8k": 100.0}, 0.5, 400.0, None, True, "a guess")
    write_plan_record(path, record)
    data = json.loads(path.read_text())
    assert data["schema_version"] == PLAN_SCHEMA_VERSION == 1 and list(data) == sorted(data)
    assert read_plan_record(path) == record


def test_an_old_plan_json_still_reaches_the_cost_table(tmp_path: Path) -> None:
    run = RunLayout(tmp_path)
    run.root.mkdir(exist_ok=True)
    run.plan_record.write_text(OLD_PLAN)
    assert read_plan_record(run.plan_record).schema_version == 1
    write_job_record(run.job_record_file("generate"), JobRecord("generate", "COMPLETED", 360.0, 2, None, 1001.0))
    write_job_record(run.job_record_file("evaluate-gsm8k"), JobRecord("evaluate-gsm8k", "COMPLETED", 60.0, 0, "x", 5.0))
    plan = run_cost(tmp_path, None).plan
    assert plan is not None
    assert (plan.estimated.wall_s, plan.estimated.gpu_hours, plan.estimated.jobs) == (400.0, 0.5, 2)
    assert (plan.actual.wall_s, plan.actual.gpu_hours, plan.actual.jobs) == (360.0, 0.2, 1)  # evaluate: before it
    assert (plan.guess, plan.basis) == (False, "measured")
    run.plan_record.write_text("[]")  # not an object: no plan, as before
    assert run_cost(tmp_path, None).plan is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema_version": 2}, "schema_version 2 is newer"),
        ({"jobs": ["generate"]}, "'jobs' should be an object"),
        ({"jobs": {"generate": "5m"}}, "jobs: 'generate' should be a number"),
        ({"guess": "no"}, "'guess' should be true or false"),
        ({"created_at": None}, "'created_at' should be a number"),
        ({"cost_per_gpu_hour": -1}, "cost_per_gpu_hour should be a number >= 0"),
    ],
)
def test_a_bad_plan_json_is_an_error_naming_the_file_and_the_key(tmp_path: Path, change: dict, message: str) -> None:
    path = RunLayout(tmp_path).plan_record
    path.write_text(json.dumps({**json.loads(OLD_PLAN), **change}))
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: {re.escape(message)}"):
        run_cost(tmp_path, None)  # the summary's reader fails as the record's own does


def test_the_submission_record_is_what_status_attaches_with_and_old_ones_still_read(tmp_path: Path) -> None:
    conf = Path(__file__).resolve().parents[2] / "conf"
    spec = load_cluster_spec("docker-local", conf)
    out = tmp_path / "run"
    logs = {"gsm8k-generate": str(out / "logs" / "gsm8k-generate")}
    path = record_submission(out, spec, SimpleNamespace(job_ids=logs))  # type: ignore[arg-type]
    data = json.loads(path.read_text())
    assert data["schema_version"] == SUBMITTED_SCHEMA_VERSION == 1 and data["backend"] == "docker"
    assert read_submitted_record(path) == SubmittedRecord("docker", str(spec.path), logs)
    assert attach_run(out, conf).job_ids == logs
    path.write_text(json.dumps({k: v for k, v in data.items() if k != "schema_version"}))  # an older run's
    assert attach_run(out, conf).job_ids == logs
    path.write_text(json.dumps({**data, "job_ids": ["gsm8k-generate"]}))
    with pytest.raises(DataError, match=r"submitted\.json: 'job_ids' should be an object"):
        attach_run(out, conf)
    write_submitted_record(path, SubmittedRecord("docker", str(spec.path), logs, schema_version=2))
    with pytest.raises(DataError, match=r"submitted\.json: schema_version 2 is newer"):
        read_submitted_record(path)
