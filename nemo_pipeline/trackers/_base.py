"""What a tracker logs (`TrackedRun`: one per model, built from the summary files), the tracker registry, and the
checks eval.py makes before anything starts."""

from __future__ import annotations

import csv
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nemo_pipeline.errors import MissingExtraError
from nemo_pipeline.records import UnreadableRecordError, read_run_record
from nemo_pipeline.registry import Registry

__all__ = [
    "TRACKERS",
    "TrackedGroup",
    "TrackedRun",
    "Tracker",
    "metric_key",
    "read_table",
    "require_module",
]


def metric_key(*parts: str) -> str:
    """`benchmark/subset/metric` (a `/` inside a part becomes `_`, so the key keeps three parts)."""
    return "/".join(part.replace("/", "_") for part in parts)


def read_table(path: Path) -> list[dict[str, str]]:
    """The rows of a summary.csv ([] when there is none)."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class TrackedRun:
    """One model's run as a tracker sees it: configuration, metrics, the summary table and files."""

    name: str
    directory: Path
    params: dict[str, str]  # run.json's fields and the flattened configuration, as text
    metrics: dict[str, float]  # benchmark/subset/metric (standard errors included as metric_std_err)
    table: list[dict[str, str]]  # summary.csv rows
    files: tuple[Path, ...]  # summary.md/.csv/.json, report.html
    config: dict[str, Any] = field(default_factory=dict)  # run.json as written


@dataclass(frozen=True)
class TrackedGroup:
    """A campaign: its models' runs are grouped under its name, with the comparison table and report."""

    name: str
    directory: Path
    table: list[dict[str, str]]
    files: tuple[Path, ...]


class Tracker(Protocol):
    """Logs runs to one experiment tracker; `check` runs before anything starts and imports nothing heavy."""

    extra: str  # the pip extra that installs its library

    def check(self, target: str) -> None:
        """ConfigError (one line) when the target cannot be logged to from here: library missing, unreachable."""
        ...

    def log(
        self, target: str, runs: Sequence[TrackedRun], group: TrackedGroup | None, options: dict[str, str]
    ) -> list[str]:
        """Log every run (grouped under `group`); return the tracker's ids of what it created."""
        ...


TRACKERS: Registry[Tracker] = Registry("experiment tracker")


def require_module(module: str, feature: str, extra: str) -> None:
    """MissingExtraError naming the extra when `module` cannot be imported (found without importing it)."""
    if importlib.util.find_spec(module) is None:
        raise MissingExtraError(feature, module, extra)


def run_params(run_record: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """run.json as tracker parameters (text values; the flattened config under its own keys) and as written."""
    try:
        record = read_run_record(run_record).to_json()
    except UnreadableRecordError:  # missing or not an object: a run without its record logs no parameters
        record = {}
    params: dict[str, str] = {}
    for key, value in record.items():
        if key == "config" and isinstance(value, dict):
            params.update({f"config.{k}": str(v) for k, v in value.items()})
        elif key != "command":  # the command can be long: it travels in config.json
            params[key] = str(value)
    return params, record
