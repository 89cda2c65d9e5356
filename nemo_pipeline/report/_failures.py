"""Why a benchmark has no results: the jobs that served it and did not complete, with their log's error line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from nemo_pipeline.layout import RunLayout
from nemo_pipeline.records import JobRecord
from nemo_pipeline.report._cost import OK_STATES

__all__ = ["job_failures"]

_LOG_TAIL_BYTES = 64 * 1024
_MESSAGE_CHARS = 600
_LOGGER_PREFIX = re.compile(r"^(?:ERROR|CRITICAL|WARNING)\s+[\w.]+:\s*")
_ERROR = re.compile(r"error|fail|traceback", re.IGNORECASE)


def _serves(layout: RunLayout, record: JobRecord, benchmark: str) -> bool:
    if record.benchmark is not None:
        return record.benchmark == benchmark
    folder = layout.bench_dir(benchmark).relative_to(layout.root).as_posix() + "/"
    return any(task.startswith(folder) for task in record.tasks)


def _tail(path: Path) -> list[str]:
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - _LOG_TAIL_BYTES))
            return handle.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return []


def _error_line(layout: RunLayout, record: JobRecord, benchmark: str) -> str:
    """The last error line of the job's log that names the benchmark (paths made relative to the run); for a job of
    this benchmark alone, else its last error line; '' if none."""
    root = layout.root.as_posix() + "/"
    lines = [_LOGGER_PREFIX.sub("", line.strip()).replace(root, "") for line in _tail(layout.main_log(record.job))]
    errors = [line for line in lines if _ERROR.search(line)]
    folder = layout.bench_dir(benchmark).relative_to(layout.root).as_posix() + "/"
    named = [line for line in errors if folder in line]
    if not named and record.benchmark is None:
        return ""
    message = (named or errors or [""])[-1]
    return message if len(message) <= _MESSAGE_CHARS else message[:_MESSAGE_CHARS] + " [...]"


def job_failures(run_dir: Path, records: Sequence[JobRecord], benchmark: str) -> str:
    """'job <name> <STATE>: <error line>' for each job that served `benchmark` and did not complete; '' if none."""
    layout = RunLayout(run_dir)
    notes = []
    for record in records:
        if record.state in OK_STATES or not _serves(layout, record, benchmark):
            continue
        line = _error_line(layout, record, benchmark)
        log = layout.main_log(record.job).relative_to(layout.root)
        where = f": {line}" if line else f"; its log names no error for {benchmark} ({log})"
        notes.append(f"job {record.job} {record.state}{where}")
    return "; ".join(notes)
