"""The files a run's jobs leave: `logs/<job>/job.json` (`JobRecord`, what a job used), `logs/<job>/cancelled.json`
(`CancelledRecord`, why a job never ran), `jobs/local-status.json` (`LocalStatusRecord`, every job's state as a local
run goes), `plan.json` (`PlanRecord`, the launch plan's estimate of the jobs it started) and `jobs/submitted.json`
(`SubmittedRecord`, where a cluster run's jobs are)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nemo_pipeline.errors import DataError
from nemo_pipeline.jsonl import write_text_atomic
from nemo_pipeline.records._base import (
    check_version,
    cost_rate,
    finite_number,
    read_json_object,
    string_list,
    text_value,
)

JOB_SCHEMA_VERSION = 1
CANCELLED_SCHEMA_VERSION = 1
LOCAL_STATUS_SCHEMA_VERSION = 1
PLAN_SCHEMA_VERSION = 1
SUBMITTED_SCHEMA_VERSION = 1


# `where` in these checks is the file, or the file and the object inside it ("<path>: jobs['generate']").


def _required_text(data: Mapping[str, Any], key: str, where: object) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise DataError(f"{where}: {key!r} should be a non-empty string, got {value!r}")
    return value


def _number(data: Mapping[str, Any], key: str, where: object, default: float | None = None) -> float:
    """A finite number (an int or a float, not a bool); required when `default` is None."""
    if key not in data and default is not None:
        return default
    value = finite_number(data.get(key))
    if value is None:
        raise DataError(f"{where}: {key!r} should be a number, got {data.get(key)!r}")
    return float(value)


def _count(data: Mapping[str, Any], key: str, where: object) -> int:
    """A non-negative integer; 0 when the key is absent or null."""
    value = data.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataError(f"{where}: {key!r} should be a non-negative integer, got {value!r}")
    return value


def _dumps_sorted(data: Mapping[str, Any]) -> str:
    """The compact, key-sorted form the job files have always had."""
    return json.dumps(dict(data), sort_keys=True) + "\n"


@dataclass(frozen=True)
class JobRecord:
    """logs/<job>/job.json: what one job used, written by whatever ran it (the supervisor, a backend), read by the
    summary's cost table, its failure notes and the launch plan's measured rates."""

    job: str
    state: str  # a JobState value
    wall_s: float
    gpus: int = 0
    benchmark: str | None = None
    started_at: float = 0.0  # unix time
    ended_at: float = 0.0
    tasks: list[str] = field(default_factory=list)  # output files this job generated or graded, relative to run
    schema_version: int = JOB_SCHEMA_VERSION

    @property
    def gpu_hours(self) -> float:
        return self.gpus * self.wall_s / 3600.0

    def to_json(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "state": self.state,
            "wall_s": self.wall_s,
            "gpus": self.gpus,
            "benchmark": self.benchmark,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "tasks": list(self.tasks),
            "schema_version": self.schema_version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: Path) -> JobRecord:
        """The record of `data` read from `path`; raise DataError naming the file and the bad key. Keys it does not
        know are left out."""
        version = check_version(data, path, JOB_SCHEMA_VERSION)
        return cls(
            job=_required_text(data, "job", path),
            state=_required_text(data, "state", path),
            wall_s=_number(data, "wall_s", path),
            gpus=_count(data, "gpus", path),
            benchmark=text_value(data, "benchmark", path, None),
            started_at=_number(data, "started_at", path, 0.0),
            ended_at=_number(data, "ended_at", path, 0.0),
            tasks=list(string_list(data, "tasks", path) or ()),
            schema_version=version,
        )


def write_job_record(path: Path, record: JobRecord) -> None:
    """Write job.json (compact, sorted keys, atomically)."""
    write_text_atomic(path, _dumps_sorted(record.to_json()))


def read_job_record(path: Path) -> JobRecord:
    """Read job.json: UnreadableRecordError when it is missing, unreadable or not an object; DataError for a bad
    key or a newer schema version."""
    return JobRecord.from_json(read_json_object(path), path)


@dataclass(frozen=True)
class CancelledRecord:
    """logs/<job>/cancelled.json: why a backend that runs jobs itself (docker) cancelled a job before it ran."""

    reason: str = ""
    schema_version: int = CANCELLED_SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "schema_version": self.schema_version}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: Path) -> CancelledRecord:
        version = check_version(data, path, CANCELLED_SCHEMA_VERSION)
        return cls(text_value(data, "reason", path), version)


def write_cancelled_record(path: Path, record: CancelledRecord) -> None:
    """Write cancelled.json (compact, sorted keys, atomically)."""
    write_text_atomic(path, _dumps_sorted(record.to_json()))


def read_cancelled_record(path: Path) -> CancelledRecord:
    """Read cancelled.json: UnreadableRecordError when it is missing or not an object, DataError for a bad key."""
    return CancelledRecord.from_json(read_json_object(path), path)


@dataclass(frozen=True)
class LocalJobStatus:
    """One job's entry in jobs/local-status.json."""

    state: str  # a JobState value
    seconds: float = 0.0
    exit_code: int | None = None
    log: str | None = None  # the job's main log
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "seconds": self.seconds,
            "exit_code": self.exit_code,
            "log": self.log,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Any, path: Path, name: str) -> LocalJobStatus:
        where = f"{path}: jobs[{name!r}]"
        if not isinstance(data, dict):
            raise DataError(f"{where}: expected an object, got {str(data)[:80]!r}")
        exit_code = data.get("exit_code")
        if exit_code is not None and (isinstance(exit_code, bool) or not isinstance(exit_code, int)):
            raise DataError(f"{where}: 'exit_code' should be an integer or null, got {exit_code!r}")
        return cls(
            state=_required_text(data, "state", where),
            seconds=_number(data, "seconds", where, 0.0),
            exit_code=exit_code,
            log=text_value(data, "log", where, None),
            reason=text_value(data, "reason", where),
        )


@dataclass(frozen=True)
class LocalStatusRecord:
    """jobs/local-status.json: every job's state as the local backend's run goes (read by `pipeline/status.py`)."""

    pid: int  # the process running the jobs (0: unknown); a dead one with unfinished jobs was interrupted
    jobs: dict[str, LocalJobStatus]  # in the order they run
    schema_version: int = LOCAL_STATUS_SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "jobs": {name: status.to_json() for name, status in self.jobs.items()},
            "schema_version": self.schema_version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: Path) -> LocalStatusRecord:
        version = check_version(data, path, LOCAL_STATUS_SCHEMA_VERSION)
        jobs = data.get("jobs")
        if not isinstance(jobs, dict):
            raise DataError(f"{path}: 'jobs' should be an object, got {str(jobs)[:80]!r}")
        statuses = {str(name): LocalJobStatus.from_json(info, path, str(name)) for name, info in jobs.items()}
        return cls(_count(data, "pid", path), statuses, version)


def write_local_status(path: Path, record: LocalStatusRecord) -> None:
    """Write local-status.json (indented, atomically: status.py may read it at any moment)."""
    write_text_atomic(path, json.dumps(record.to_json(), indent=2) + "\n")


def read_local_status(path: Path) -> LocalStatusRecord:
    """Read local-status.json: UnreadableRecordError when it is missing or not an object, DataError for a bad key."""
    return LocalStatusRecord.from_json(read_json_object(path), path)


@dataclass(frozen=True)
class PlanRecord:
    """plan.json: the launch plan's estimate for the jobs a run started (written by eval.py), which the summary
    puts beside what the same jobs used."""

    created_at: float  # unix time: job records from before it belong to an earlier run
    jobs: dict[str, float]  # job (its file stem) -> estimated seconds
    gpu_hours: float = 0.0
    elapsed_s: float = 0.0
    cost_per_gpu_hour: float | None = None
    guess: bool = True  # some rate was a default, not measured
    basis: str = ""  # how the rates were found
    schema_version: int = PLAN_SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "created_at": self.created_at,
            "jobs": dict(self.jobs),
            "gpu_hours": self.gpu_hours,
            "elapsed_s": self.elapsed_s,
            "cost_per_gpu_hour": self.cost_per_gpu_hour,
            "guess": self.guess,
            "basis": self.basis,
            "schema_version": self.schema_version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: Path) -> PlanRecord:
        version = check_version(data, path, PLAN_SCHEMA_VERSION)
        jobs = data.get("jobs")
        if not isinstance(jobs, dict):
            raise DataError(f"{path}: 'jobs' should be an object of job -> seconds, got {str(jobs)[:80]!r}")
        guess = data.get("guess", True)
        if not isinstance(guess, bool):
            raise DataError(f"{path}: 'guess' should be true or false, got {guess!r}")
        return cls(
            created_at=_number(data, "created_at", path, 0.0),
            jobs={str(job): _number(jobs, job, f"{path}: jobs") for job in jobs},
            gpu_hours=_number(data, "gpu_hours", path, 0.0),
            elapsed_s=_number(data, "elapsed_s", path, 0.0),
            cost_per_gpu_hour=cost_rate(data.get("cost_per_gpu_hour"), path),
            guess=guess,
            basis=text_value(data, "basis", path),
            schema_version=version,
        )


def write_plan_record(path: Path, record: PlanRecord) -> None:
    """Write plan.json (compact, sorted keys, atomically)."""
    write_text_atomic(path, _dumps_sorted(record.to_json()))


def read_plan_record(path: Path) -> PlanRecord:
    """Read plan.json: UnreadableRecordError when it is missing or not an object, DataError for a bad key."""
    return PlanRecord.from_json(read_json_object(path), path)


@dataclass(frozen=True)
class SubmittedRecord:
    """jobs/submitted.json: the cluster config a run was submitted with and the ids its jobs got, so that
    `pipeline/status.py` finds the jobs again (written by eval.py when a cluster run is submitted)."""

    backend: str
    cluster: str  # the cluster config's path, or its name
    job_ids: dict[str, str]  # job name -> the id its scheduler gave it (docker: its log folder)
    schema_version: int = SUBMITTED_SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "cluster": self.cluster,
            "job_ids": dict(self.job_ids),
            "schema_version": self.schema_version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: Path) -> SubmittedRecord:
        version = check_version(data, path, SUBMITTED_SCHEMA_VERSION)
        job_ids = data.get("job_ids")
        if not isinstance(job_ids, dict) or not all(isinstance(v, str) for v in job_ids.values()):
            raise DataError(f"{path}: 'job_ids' should be an object of job -> id, got {str(job_ids)[:80]!r}")
        return cls(
            backend=_required_text(data, "backend", path),
            cluster=_required_text(data, "cluster", path),
            job_ids={str(k): v for k, v in job_ids.items()},
            schema_version=version,
        )


def write_submitted_record(path: Path, record: SubmittedRecord) -> None:
    """Write jobs/submitted.json (indented, atomically)."""
    write_text_atomic(path, json.dumps(record.to_json(), indent=2) + "\n")


def read_submitted_record(path: Path) -> SubmittedRecord:
    """Read jobs/submitted.json: UnreadableRecordError when it is missing or not an object, DataError for a bad
    key."""
    return SubmittedRecord.from_json(read_json_object(path), path)
