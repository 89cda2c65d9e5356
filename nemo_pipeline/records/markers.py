"""Markers: the small JSON files a step writes when it is whole, recording the stamp it was run for (`layout.py` says
where each one is, builds the stamps and holds the one rule for "complete"). Every marker is written and read here:

- any marker: `write_marker` / `read_marker` (a JSON object of the stamp's keys plus `schema_version`);
- the generate step's done marker (`DoneMarker`: the selection stamp and the ids it selected);
- the evaluate step's graded marker (`GradedMarker`: the grading stamp, the number of lines graded and their ids);
- a generate task's live progress (`Progress`).

A marker that is missing, torn or not a JSON object reads as None (the step is not complete and runs again); one
from a newer nemo-pipeline is a DataError naming the file, never read as "not complete" and overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nemo_pipeline.errors import DataError
from nemo_pipeline.jsonl import write_text_atomic
from nemo_pipeline.records._base import UnreadableRecordError, check_version, read_json_object

MARKER_SCHEMA_VERSION = 1

_VERSION_KEY = "schema_version"


def write_marker(path: Path, stamp: Mapping[str, Any]) -> None:
    """Write a marker atomically (a reader never sees half of one): the stamp's keys and the schema version."""
    write_text_atomic(path, json.dumps({**stamp, _VERSION_KEY: MARKER_SCHEMA_VERSION}, sort_keys=True) + "\n")


def read_marker(path: Path) -> dict[str, Any] | None:
    """The stamp a marker records (without its schema version); None when it is missing, torn or not an object.
    DataError naming the file when a newer nemo-pipeline wrote it."""
    try:
        value = read_json_object(path)
    except UnreadableRecordError:
        return None
    check_version(value, path, MARKER_SCHEMA_VERSION)
    value.pop(_VERSION_KEY, None)
    return value


def _ids(data: Mapping[str, Any], path: Path) -> tuple[str, ...] | None:
    """The marker's item ids; None for a marker written before selections were recorded."""
    ids = data.get("ids")
    if ids is None:
        return None
    if not isinstance(ids, list):
        raise DataError(f"{path}: 'ids' should be a list of item ids, got {str(ids)[:80]!r}")
    return tuple(str(i) for i in ids)


@dataclass(frozen=True)
class DoneMarker:
    """`<output>.done`: the generate step finished every item of a selection (`layout.selection_stamp`)."""

    selection: dict[str, Any]  # max_samples, max_samples_per_subset, num_chunks, chunk_id
    ids: tuple[str, ...] | None  # the selected item ids, in file order (None: an old marker, which did not say)

    def to_json(self) -> dict[str, Any]:
        return {**self.selection, "ids": None if self.ids is None else list(self.ids)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: Path) -> DoneMarker:
        return cls({k: v for k, v in data.items() if k != "ids"}, _ids(data, path))


@dataclass(frozen=True)
class GradedMarker:
    """`<output>.graded`: the evaluate step graded a file whole for a grader, judge and selection
    (`layout.grading_stamp`); the compute-metrics stage counts only the `ids` it names."""

    stamp: dict[str, Any]  # grader, generated (the digest of the ids), judge (when the grader has one)
    items: int  # lines graded
    ids: tuple[str, ...] | None  # None: an old marker, which did not say (every line of the file counts)

    def to_json(self) -> dict[str, Any]:
        return {**self.stamp, "items": self.items, "ids": None if self.ids is None else list(self.ids)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: Path) -> GradedMarker:
        items = data.get("items")
        if isinstance(items, bool) or not isinstance(items, int) or items < 0:
            raise DataError(f"{path}: 'items' should be a non-negative integer, got {items!r}")
        return cls({k: v for k, v in data.items() if k not in ("items", "ids")}, items, _ids(data, path))


def write_done_marker(path: Path, marker: DoneMarker) -> None:
    write_marker(path, marker.to_json())


def read_done_marker(path: Path) -> DoneMarker | None:
    """The done marker at `path`; None when there is none (or a torn one), DataError when it lacks its ids."""
    data = read_marker(path)
    return None if data is None else DoneMarker.from_json(data, path)


def write_graded_marker(path: Path, marker: GradedMarker) -> None:
    write_marker(path, marker.to_json())


def read_graded_marker(path: Path) -> GradedMarker | None:
    """The graded marker at `path`; None when there is none (a file graded by hand), DataError when it is bad."""
    data = read_marker(path)
    return None if data is None else GradedMarker.from_json(data, path)


@dataclass(frozen=True)
class Progress:
    """`<output>.progress.json`: items done of total for one output file; the rate counts only items generated in
    this attempt."""

    done: int
    total: int
    generated: int  # items generated since `started_at` (a resumed run starts with done > 0)
    started_at: float
    updated_at: float

    @property
    def items_per_s(self) -> float:
        elapsed = self.updated_at - self.started_at
        return self.generated / elapsed if elapsed > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        rate = self.items_per_s
        return (self.total - self.done) / rate if rate > 0 else None

    def describe(self) -> str:
        left = self.seconds_left
        eta = f", ~{left:.0f} s left" if left is not None and self.done < self.total else ""
        return f"{self.done}/{self.total} items, {self.items_per_s:.2f} items/s{eta}"

    def to_json(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "total": self.total,
            "generated": self.generated,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Progress | None:
        """None when a key is missing or not a number: progress is shown, never relied on."""
        values: list[float] = []
        for key in ("done", "total", "generated", "started_at", "updated_at"):
            value = data.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None
            values.append(value)
        done, total, generated, started_at, updated_at = values
        return cls(int(done), int(total), int(generated), started_at, updated_at)


def write_progress(path: Path, progress: Progress) -> None:
    write_marker(path, progress.to_json())


def read_progress_file(path: Path) -> Progress | None:
    """The progress at `path`; None when there is none or it cannot be read."""
    data = read_marker(path)
    return None if data is None else Progress.from_json(data)
