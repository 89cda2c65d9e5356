"""The typed records of a run directory, each written and read by one class: run.json (`RunRecord`), the verdict
on a line of output*.jsonl (`Grading`) and a benchmark's metrics.json (`MetricsRecord`). `layout.py` says where
each file is; this module says what it holds.

Each file record carries `schema_version`. A file without one was written before versions were recorded and reads
as version 1; a file from a newer nemo-pipeline is a DataError naming it, never a silent misreading.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nemo_pipeline.errors import DataError

__all__ = [
    "METRICS_SCHEMA_VERSION",
    "RUN_SCHEMA_VERSION",
    "Grading",
    "MetricsRecord",
    "RunRecord",
    "UnreadableRecordError",
    "as_text",
    "finite_number",
    "is_graded",
    "read_json_object",
    "read_metrics",
    "read_run_record",
    "write_metrics",
    "write_run_record",
]

RUN_SCHEMA_VERSION = 1
METRICS_SCHEMA_VERSION = 1


class UnreadableRecordError(DataError):
    """A record file cannot be read, is not JSON, or is not a JSON object (as opposed to a bad key in one)."""


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object a record file holds; UnreadableRecordError naming the file when it is unreadable, not JSON,
    or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UnreadableRecordError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableRecordError(f"{path}: cannot read it ({exc})") from None
    if not isinstance(data, dict):
        raise UnreadableRecordError(f"{path}: expected a JSON object, got {str(data)[:80]!r}")
    return data


def _version(data: Mapping[str, Any], path: Path, current: int) -> int:
    """The file's schema version: 1 when absent (written before versions); newer than `current` is an error."""
    version = data.get("schema_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise DataError(f"{path}: 'schema_version' should be a positive integer, got {version!r}")
    if version > current:
        raise DataError(
            f"{path}: schema_version {version} is newer than this nemo-pipeline reads ({current}); "
            "upgrade nemo-pipeline"
        )
    return version


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _text(data: Mapping[str, Any], key: str, path: Path, default: str | None = "") -> Any:
    value = data.get(key, default)
    if value is not None and not isinstance(value, str):
        raise DataError(f"{path}: {key!r} should be a string, got {value!r}")
    return default if value is None else value


def _strings(data: Mapping[str, Any], key: str, path: Path) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{path}: {key!r} should be a list of strings, got {value!r}")
    return tuple(value)


def _rate(value: Any, path: Path) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise DataError(f"{path}: cost_per_gpu_hour should be a number >= 0 or null, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class RunRecord:
    """run.json: the command, model and benchmarks of one model's run (written by `pipeline_eval`)."""

    command: str = ""
    name: str | None = None  # the model's name in its campaign (None: a single run)
    model: str = ""  # the model path or name as served ("<server_type>-default" when none was given)
    server_type: str = ""
    benchmarks: tuple[str, ...] = ()  # "gsm8k:4" as requested
    cluster: str = ""
    cost_per_gpu_hour: float | None = None
    config: dict[str, Any] = field(default_factory=dict)  # the flattened evaluation configuration
    overrides: tuple[str, ...] | None = None  # a campaign model's own overrides (None: not a campaign model)
    published: str | None = None  # the published model its summary compares with (None: none)
    published_file: str | None = None  # the user's file of published scores (with `published` only)
    schema_version: int = RUN_SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "command": self.command,
            "name": self.name,
            "model": self.model,
            "server_type": self.server_type,
            "benchmarks": list(self.benchmarks),
            "cluster": self.cluster,
            "cost_per_gpu_hour": self.cost_per_gpu_hour,
            "config": dict(self.config),
        }
        if self.overrides is not None:
            data["overrides"] = list(self.overrides)
        if self.published is not None:
            data["published"], data["published_file"] = self.published, self.published_file
        data["schema_version"] = self.schema_version
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: Path) -> RunRecord:
        """The record of `data` read from `path`; raise DataError naming the file and the bad key."""
        version = _version(data, path, RUN_SCHEMA_VERSION)
        config = data.get("config") or {}
        if not isinstance(config, dict):
            raise DataError(f"{path}: 'config' should be an object, got {str(config)[:80]!r}")
        return cls(
            command=_text(data, "command", path),
            name=_text(data, "name", path, None),
            model=_text(data, "model", path),
            server_type=_text(data, "server_type", path),
            benchmarks=_strings(data, "benchmarks", path) or (),
            cluster=_text(data, "cluster", path),
            cost_per_gpu_hour=_rate(data.get("cost_per_gpu_hour"), path),
            config=config,
            overrides=_strings(data, "overrides", path),
            published=_text(data, "published", path, None),
            published_file=_text(data, "published_file", path, None),
            schema_version=version,
        )


def write_run_record(path: Path, record: RunRecord) -> None:
    """Write run.json (indented, keys in the record's order, atomically)."""
    _write_atomic(path, json.dumps(record.to_json(), indent=2) + "\n")


def read_run_record(path: Path) -> RunRecord:
    """Read run.json: UnreadableRecordError when it cannot be read as an object, DataError for a bad key."""
    return RunRecord.from_json(read_json_object(path), path)


def finite_number(value: Any) -> float | None:
    """`value` when it is a finite int or float (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class MetricsRecord:
    """metrics.json: a benchmark's metric blocks ("all" and one per subset), written by the compute-metrics stage."""

    benchmark: str
    num_seeds: int  # 0: one greedy run (output.jsonl)
    metrics: dict[str, dict[str, float]]  # block ("all", "<subset>") -> metric -> value
    protocol: str = "official"  # the benchmark protocol its numbers follow
    headline: str | None = None  # the benchmark's headline metric as its protocol names it
    schema_version: int = METRICS_SCHEMA_VERSION

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "benchmark": self.benchmark,
            "num_seeds": self.num_seeds,
            "metrics": {subset: dict(block) for subset, block in self.metrics.items()},
            "protocol": self.protocol,
            "schema_version": self.schema_version,
        }
        if self.headline is not None:
            data["headline"] = self.headline
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: Path) -> MetricsRecord:
        """The record of `data` read from `path`; raise DataError saying what is wrong with it. Values that are not
        finite numbers are left out of the blocks (nothing can show them)."""
        version = _version(data, path, METRICS_SCHEMA_VERSION)
        if not isinstance(data.get("metrics"), dict):
            raise DataError(f"{path}: expected an object with a 'metrics' object, got {str(data)[:80]!r}")
        blocks: dict[str, dict[str, float]] = {}
        for subset, block in data["metrics"].items():
            if not isinstance(block, dict):
                raise DataError(f"{path}: metrics[{subset!r}] should be an object, got {type(block).__name__}")
            blocks[str(subset)] = {k: v for k, v in ((k, finite_number(v)) for k, v in block.items()) if v is not None}
        if "all" not in blocks:
            raise DataError(f"{path}: the 'metrics' object has no 'all' block (found: {sorted(blocks)})")
        num_seeds = data.get("num_seeds", 0)
        if not isinstance(num_seeds, int) or isinstance(num_seeds, bool) or num_seeds < 0:
            raise DataError(f"{path}: 'num_seeds' should be a non-negative integer, got {num_seeds!r}")
        protocol = data.get("protocol", "official")  # files written before protocols were recorded: the default
        if not isinstance(protocol, str) or not protocol:
            raise DataError(f"{path}: 'protocol' should be a protocol name, got {protocol!r}")
        headline = data.get("headline")  # absent in files written before it was recorded
        if headline is not None and not isinstance(headline, str):
            raise DataError(f"{path}: 'headline' should be a metric name, got {headline!r}")
        benchmark = data.get("benchmark", path.parent.name)
        if not isinstance(benchmark, str):
            raise DataError(f"{path}: 'benchmark' should be a benchmark name, got {benchmark!r}")
        return cls(benchmark, num_seeds, blocks, protocol, headline, version)


def write_metrics(path: Path, record: MetricsRecord) -> None:
    """Write metrics.json (indented, sorted keys, atomically)."""
    _write_atomic(path, json.dumps(record.to_json(), indent=2, sort_keys=True))


def read_metrics(path: Path) -> MetricsRecord:
    """Read metrics.json; raise DataError (UnreadableRecordError when it is not a JSON object) naming the file."""
    data = read_json_object(path)
    return MetricsRecord.from_json(data, path)


def as_text(value: Any) -> str:
    """A value as report text: "" for None, a string as it is, anything else as its JSON text."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class Grading:
    """The verdict the evaluate stage adds to a line of output*.jsonl (the line keeps its other keys). A line
    without `is_correct` is not graded yet."""

    is_correct: bool
    predicted_answer: str | None  # None: nothing could be extracted (no answer)
    grading_reason: str = ""
    scores: dict[str, float] = field(default_factory=dict)  # extra per-item scores (ifeval strict/loose, ratings)

    def to_json(self) -> dict[str, Any]:
        return {
            "predicted_answer": self.predicted_answer,
            "is_correct": self.is_correct,
            "grading_reason": self.grading_reason,
            "scores": dict(self.scores),
        }

    @classmethod
    def of(cls, line: Mapping[str, Any]) -> Grading | None:
        """The verdict on `line`, None when it has no boolean `is_correct`. Read leniently (a report shows any
        file): a non-text answer or reason reads as its JSON text, a score that is not a finite number is left out."""
        correct = line.get("is_correct")
        if not isinstance(correct, bool):
            return None
        predicted = line.get("predicted_answer")
        scores = line.get("scores")
        return cls(
            is_correct=correct,
            predicted_answer=None if predicted is None else as_text(predicted),
            grading_reason=as_text(line.get("grading_reason")),
            scores={str(k): float(v) for k, v in scores.items() if finite_number(v) is not None}
            if isinstance(scores, dict)
            else {},
        )


def is_graded(line: Mapping[str, Any]) -> bool:
    """Whether the evaluate stage has written its verdict on `line` (the metrics stage counts only such lines)."""
    return "is_correct" in line
