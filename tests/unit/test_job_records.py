"""The records the jobs of a run leave (job.json): written and read by one class, versioned, and the files of an
older run still read."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from nemo_pipeline.errors import DataError
from nemo_pipeline.jobs.supervise import ComponentSpec, RecordSpec, SupervisorSpec, supervise
from nemo_pipeline.layout import RunLayout
from nemo_pipeline.records import (
    JOB_SCHEMA_VERSION,
    JobRecord,
    UnreadableRecordError,
    read_job_record,
    write_job_record,
)

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
