"""The files a run's jobs leave: `logs/<job>/job.json` (`JobRecord`, what a job used)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nemo_pipeline.errors import DataError
from nemo_pipeline.records._base import (
    check_version,
    finite_number,
    read_json_object,
    string_list,
    text_value,
    write_atomic,
)

JOB_SCHEMA_VERSION = 1


# `where` in these checks is the file, or the file and the object inside it ("<path>: jobs['generate']").


def _required_text(data: Mapping[str, Any], key: str, where: object) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise DataError(f"{where}: {key!r} should be a non-empty string, got {value!r}")
    return value


def _optional_text(data: Mapping[str, Any], key: str, where: object) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise DataError(f"{where}: {key!r} should be a string or null, got {value!r}")
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
    write_atomic(path, _dumps_sorted(record.to_json()))


def read_job_record(path: Path) -> JobRecord:
    """Read job.json: UnreadableRecordError when it is missing, unreadable or not an object; DataError for a bad
    key or a newer schema version."""
    return JobRecord.from_json(read_json_object(path), path)
