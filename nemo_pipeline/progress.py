"""Live progress of a generate task: written beside its output file, read by the local backend and status.py."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

from nemo_pipeline.layout import progress_file, read_marker, write_marker

__all__ = ["Progress", "ProgressWriter", "read_progress"]


@dataclass(frozen=True)
class Progress:
    """Items done of total for one output file; the rate counts only items generated in this attempt."""

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
        write_marker(self.path, asdict(Progress(self.done, self.total, self.generated, self.started_at, time.time())))


def read_progress(output_file: Path) -> Progress | None:
    """The last progress written for `output_file`; None if none (or unreadable)."""
    data = read_marker(progress_file(output_file))
    if data is None:
        return None
    try:
        return Progress(**data)
    except TypeError:
        return None
