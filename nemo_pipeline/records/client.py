"""`<output>.client.json`: what the client of one generate or log-likelihood task did (`ClientReport`): the in-flight
limit it settled at, the requests it sent and retried (by reason), the items it wrote and those that failed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from nemo_pipeline.errors import DataError
from nemo_pipeline.jsonl import write_text_atomic
from nemo_pipeline.records._base import check_version, read_json_object

CLIENT_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ClientReport:
    """One task's client: written when the task's requests end (also when some failed)."""

    output_file: str
    mode: str  # "adaptive" or "pinned"
    limit_settled: int  # the in-flight limit over the second half of the run (the pinned value when pinned)
    limit_peak: int
    peak_in_flight: int
    items: int  # items this run set out to generate or score
    items_written: int
    items_failed: int
    failed_ids: list[str]  # the first few
    requests: int  # HTTP attempts
    retried: int
    retries: dict[str, int] = field(default_factory=dict)  # by reason: http_429, timeout, connection, ...
    seconds: float = 0.0
    items_per_s: float = 0.0
    schema_version: int = CLIENT_SCHEMA_VERSION

    def summary(self) -> str:
        retries = ", ".join(f"{k} {v}" for k, v in self.retries.items()) or "none"
        return (
            f"{self.items_written} of {self.items} item(s) written in {self.seconds:.1f} s ({self.items_per_s:g}/s); "
            f"{self.mode} in-flight limit settled at {self.limit_settled} (peak {self.limit_peak}, "
            f"{self.peak_in_flight} in flight at most); {self.requests} request(s), {self.retried} retried ({retries})"
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: Path) -> ClientReport:
        """The report of `data` read from `path`; DataError naming the file and the first missing key."""
        version = check_version(data, path, CLIENT_SCHEMA_VERSION)
        known = {f.name for f in fields(cls)} - {"schema_version"}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise DataError(f"{path}: no {missing[0]!r}")
        return cls(**{k: v for k, v in data.items() if k in known}, schema_version=version)


def write_client_report(path: Path, report: ClientReport) -> None:
    """Write `<output>.client.json` (indented, atomically)."""
    write_text_atomic(path, json.dumps(report.to_json(), indent=1) + "\n")


def read_client_report(path: Path) -> ClientReport:
    """Read `<output>.client.json`; DataError naming the file when it cannot be read or lacks a key."""
    return ClientReport.from_json(read_json_object(path), path)
