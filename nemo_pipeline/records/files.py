"""The run's own files: run.json (`RunRecord`, written by `pipeline_eval`) and a benchmark's metrics.json
(`MetricsRecord`, written by the compute-metrics stage)."""

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

RUN_SCHEMA_VERSION = 1
METRICS_SCHEMA_VERSION = 1


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
        version = check_version(data, path, RUN_SCHEMA_VERSION)
        config = data.get("config") or {}
        if not isinstance(config, dict):
            raise DataError(f"{path}: 'config' should be an object, got {str(config)[:80]!r}")
        return cls(
            command=text_value(data, "command", path),
            name=text_value(data, "name", path, None),
            model=text_value(data, "model", path),
            server_type=text_value(data, "server_type", path),
            benchmarks=string_list(data, "benchmarks", path) or (),
            cluster=text_value(data, "cluster", path),
            cost_per_gpu_hour=cost_rate(data.get("cost_per_gpu_hour"), path),
            config=config,
            overrides=string_list(data, "overrides", path),
            published=text_value(data, "published", path, None),
            published_file=text_value(data, "published_file", path, None),
            schema_version=version,
        )


def write_run_record(path: Path, record: RunRecord) -> None:
    """Write run.json (indented, keys in the record's order, atomically)."""
    write_text_atomic(path, json.dumps(record.to_json(), indent=2) + "\n")


def read_run_record(path: Path) -> RunRecord:
    """Read run.json: UnreadableRecordError when it cannot be read as an object, DataError for a bad key."""
    return RunRecord.from_json(read_json_object(path), path)


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
        version = check_version(data, path, METRICS_SCHEMA_VERSION)
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
    write_text_atomic(path, json.dumps(record.to_json(), indent=2, sort_keys=True))


def read_metrics(path: Path) -> MetricsRecord:
    """Read metrics.json; raise DataError (UnreadableRecordError when it is not a JSON object) naming the file."""
    data = read_json_object(path)
    return MetricsRecord.from_json(data, path)
