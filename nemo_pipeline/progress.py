"""Live progress of a generate task: written beside its output file, read by the local backend and status.py."""

from __future__ import annotations

import time
from pathlib import Path

from nemo_pipeline.layout import progress_file
from nemo_pipeline.records import Progress, read_progress_file, write_progress

__all__ = ["Progress", "ProgressWriter", "read_progress"]


class ProgressWriter:
    """Writes the progress file of `output_file` at most every `interval_s` (and always at the end)."""

    def __init__(self, output_file: Path, total: int, done: int, interval_s: float = 1.0) -> None:
        self.path = progress_file(output_file)
        self.total, self.done, self.generated = total, done, 0
        self.started_at = time.time()
        self.interval_s = interval_s
        self._last = 0.0
        self._write()

    def advance(self, count: int = 1) -> None:
        self.done += count
        self.generated += count
        if time.monotonic() - self._last >= self.interval_s or self.done >= self.total:
            self._write()

    def _write(self) -> None:
        self._last = time.monotonic()
        write_progress(self.path, Progress(self.done, self.total, self.generated, self.started_at, time.time()))


def read_progress(output_file: Path) -> Progress | None:
    """The last progress written for `output_file`; None if none (or unreadable)."""
    return read_progress_file(progress_file(output_file))
