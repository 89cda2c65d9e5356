"""JSON Lines files: strict reading (errors name the line), durable appends (one by one, or committed in groups
from asyncio code), atomic rewrites."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from nemo_pipeline.errors import DataError

__all__ = [
    "GroupCommitAppender",
    "JsonlAppender",
    "iter_jsonl",
    "iter_numbered_jsonl",
    "read_jsonl",
    "write_jsonl_atomic",
    "write_text_atomic",
]


def iter_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield one dict per line; a corrupt line raises DataError naming the file and line number."""
    for _, record in iter_numbered_jsonl(path):
        yield record


def iter_numbered_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """`iter_jsonl` with each record's line number (from 1; empty lines are skipped but counted)."""
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: not valid JSON ({exc.msg}): {line[:80]!r}") from None
            if not isinstance(record, dict):
                raise DataError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
            yield number, record


def count_records(path: str | Path) -> int:
    """The records of a JSONL file, counted as its non-empty lines (a torn last line counts); OSError when the file
    cannot be read."""
    with Path(path).open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def count_records_if_any(path: str | Path) -> int | None:
    """`count_records`, or None when the file cannot be read (not written yet)."""
    try:
        return count_records(path)
    except OSError:
        return None


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return list(iter_jsonl(path))


def write_text_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` at once (a temporary file of this process, then a rename): a reader sees the old
    file or the new one, never part of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_jsonl_atomic(path: str | Path, records: Iterable[dict[str, Any]]) -> None:
    """Write all records to a temporary file, fsync, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


class JsonlAppender:
    """Appends one record per line and fsyncs it, so a killed run keeps every finished record."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_torn_tail()
        self._handle = self.path.open("a", encoding="utf-8")

    def _repair_torn_tail(self) -> None:
        """A kill mid-write can leave a last line without its newline: drop that partial record."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with self.path.open("rb+") as handle:
            data = handle.read()
            if data.endswith(b"\n"):
                return
            cut = data.rfind(b"\n") + 1
            handle.truncate(cut)

    def append(self, record: dict[str, Any]) -> None:
        self.append_lines([json.dumps(record, ensure_ascii=False) + "\n"])

    def append_lines(self, lines: list[str]) -> None:
        """Write already-serialised lines (each ending in a newline) with one write, flush and fsync."""
        self._handle.write("".join(lines))
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class GroupCommitAppender:
    """Durable appends that keep up with thousands of records a second: records added from the event loop are
    committed in groups, one write + flush + fsync (in a worker thread) per `interval_s` or per `max_records`.

    `on_commit(n)` is called after each commit: only then is a record durable, so only then may it be reported as
    written. A kill loses at most the group not yet committed; `aclose()` commits what is left.
    """

    def __init__(
        self,
        path: str | Path,
        interval_s: float = 0.05,
        max_records: int = 1024,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.interval_s = interval_s
        self.max_records = max_records
        self.on_commit = on_commit
        self.committed = 0
        self.commits = 0
        self._file = JsonlAppender(path)
        self._pending: list[str] = []
        self._has_data = asyncio.Event()
        self._full = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def add(self, record: dict[str, Any]) -> None:
        """Queue `record` for the next commit (call from the event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        elif self._task.done():
            self._task.result()  # the committer failed (disk full, ...): raise its error here
            raise RuntimeError(f"{self.path}: the committer has stopped")
        self._pending.append(json.dumps(record, ensure_ascii=False) + "\n")
        self._has_data.set()
        if len(self._pending) >= self.max_records:
            self._full.set()

    async def _run(self) -> None:
        while True:
            if not self._pending:
                if self._closing:
                    return
                await self._has_data.wait()
                self._has_data.clear()
                continue
            if not self._closing and len(self._pending) < self.max_records:
                # let a group gather: until it is full, the interval is over, or we are closing
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.interval_s)
            self._full.clear()
            lines, self._pending = self._pending, []
            await asyncio.to_thread(self._file.append_lines, lines)
            self.committed += len(lines)
            self.commits += 1
            if self.on_commit is not None:
                self.on_commit(len(lines))

    async def aclose(self) -> None:
        """Commit everything added so far, then close the file."""
        self._closing = True
        self._has_data.set()
        self._full.set()
        try:
            if self._task is not None:
                await self._task
            elif self._pending:
                self._file.append_lines(self._pending)
        finally:
            self._file.close()
