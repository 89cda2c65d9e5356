"""Child processes with bounded waits: start in their own process group, wait for health with a deadline
(checking the child is alive, explaining its log on failure), and always stop the whole group.

`explain_log` is the one way a failure's log is shown (server and sandbox starts, failed jobs): its path, the
lines that say why (the first exception and error lines, often far above the end), and its last lines."""

from __future__ import annotations

import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx

from nemo_pipeline.errors import ServerStartError

__all__ = ["TAIL_LINES", "ManagedProcess", "die_with_parent", "explain_log", "free_port", "http_ok", "tail"]

TAIL_LINES = 40  # how many last lines of a log a failure shows


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGKILL when the process that started it dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def tail(path: str | Path, lines: int = TAIL_LINES, max_bytes: int = 64 * 1024) -> str:
    """The last `lines` lines of a text file ('' if it cannot be read); reads at most `max_bytes` from the end."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-lines:])


# `ValueError: ...`, `torch.OutOfMemoryError: CUDA out of memory`, a bare `KeyboardInterrupt`, after any prefix a
# logger adds (vLLM: `(EngineCore_DP0 pid=7) ERROR 01-02 03:04:05 [core.py:708] ValueError: ...`).
_EXCEPTION = re.compile(r"(?:^|[\s\]|:])((?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit|Interrupt)(?::\s.*)?)\s*$")
_TRACEBACK = "Traceback (most recent call last):"
_ERROR_WORD = re.compile(
    r"\b(?:ERROR|CRITICAL|FATAL|[Ee]rror|[Ff]atal|[Ff]ailed|FAILED|[Aa]borted|[Pp]anic|[Ss]egmentation fault|Killed|"
    r"[Oo]ut of memory|[Nn]o such file|[Ii]nvalid argument|[Uu]nknown argument|[Uu]nrecognized)\b"
)
_NOT_AN_ERROR = re.compile(r"\b(?:WARNING|WARN|INFO|DEBUG)\b")
_FRAME = re.compile(r'File "[^"]*", line \d+')  # a traceback frame; the line after it is its source


def _clip(line: str, max_chars: int) -> str:
    return line if len(line) <= max_chars else line[: max_chars - 3] + "..."


def _cause_lines(lines: list[str], limit: int) -> list[int]:
    """Indices of the lines that say why, in log order: the first distinct exception lines, the first traceback's
    header, then error-level lines, `limit` in all."""
    exceptions: dict[str, int] = {}
    traceback_at: int | None = None
    errors: list[int] = []
    after_frame = False
    for index, line in enumerate(lines):
        frame, source = _FRAME.search(line) is not None, after_frame
        after_frame = frame
        match = None if frame or line.startswith((" ", "\t")) else _EXCEPTION.search(line)
        if match:
            exceptions.setdefault(match.group(1), index)
        elif _TRACEBACK in line:
            traceback_at = index if traceback_at is None else traceback_at
        elif not (frame or source) and _ERROR_WORD.search(line) and not _NOT_AN_ERROR.search(line):
            errors.append(index)
    chosen = []
    for index in list(exceptions.values())[: max(1, limit // 2)]:
        chosen.append(index)
        # a message on several lines (pydantic's "1 validation error for X" then "  Value error, ..."): its next
        # indented lines, up to 3
        for follow in range(index + 1, min(index + 4, len(lines))):
            if not lines[follow].startswith((" ", "\t")) or not lines[follow].strip() or _FRAME.search(lines[follow]):
                break
            chosen.append(follow)
    if traceback_at is not None:
        chosen.append(traceback_at)
    chosen += [i for i in errors if i not in chosen][: max(0, limit - len(chosen))]
    return sorted(set(chosen))[:limit]


def explain_log(
    path: str | Path,
    tail_lines: int = TAIL_LINES,
    cause_lines: int = 12,
    max_line_chars: int = 1500,
    scan_bytes: int = 8 * 1024 * 1024,
) -> str:
    """Why a process failed, from its log: the log path, the first lines naming an error (exception lines such as
    `ValueError: ...`, the first traceback, ERROR/fatal/failed lines) when they lie above the last lines, then the
    last `tail_lines` lines. Bounded: the first `scan_bytes` are searched, and each line is cut to `max_line_chars`."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(scan_bytes)
            whole = len(head) < scan_bytes or not handle.read(1)
    except OSError as exc:
        return f"log: {path} (cannot be read: {exc.strerror or exc})"
    lines = head.decode("utf-8", errors="replace").splitlines()
    if whole:
        last = lines[-tail_lines:] if tail_lines > 0 else []
        first_of_tail = len(lines) - len(last)
    else:
        last = tail(path, tail_lines).splitlines() if tail_lines > 0 else []
        first_of_tail = len(lines)
    parts = [f"log: {path}" + ("" if lines else " (empty)")]
    causes = _cause_lines(lines[:first_of_tail], cause_lines)
    if causes:
        parts.append("--- first error lines of the log (line numbers) ---")
        parts += [f"{i + 1:>6}: {_clip(lines[i], max_line_chars)}" for i in causes]
    if last:
        parts.append(f"--- last {len(last)} lines of the log ---")
        parts += [_clip(line, max_line_chars) for line in last]
    return "\n".join(parts)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def http_ok(url: str, timeout_s: float = 2.0, headers: Mapping[str, str] | None = None) -> bool:
    """True when a GET of `url` answers 2xx within `timeout_s`."""
    try:
        response = httpx.get(url, timeout=timeout_s, headers=dict(headers or {}))
    except httpx.HTTPError:
        return False
    return response.is_success


class ManagedProcess:
    """A child process whose output goes to a log file; a context manager that always stops it."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: str | Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = Path(log_path)
        self.env = dict(env or {})
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ManagedProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                start_new_session=True,
                preexec_fn=die_with_parent if sys.platform == "linux" else None,
            )
        except OSError as exc:
            raise ServerStartError(self.name, f"cannot run {self.argv[0]}: {exc}") from None
        finally:
            log.close()
        return self

    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def wait_healthy(self, health_url: str, timeout_s: float, headers: Mapping[str, str] | None = None) -> None:
        """Poll `health_url` until it answers 2xx; fail fast if the process dies, and at the deadline."""
        deadline = time.monotonic() + timeout_s
        delay = 0.1
        while not http_ok(health_url, headers=headers):
            code = self.returncode()
            if code is not None:
                raise ServerStartError(
                    self.name,
                    f"exited with code {code} before {health_url} became healthy\n{explain_log(self.log_path)}",
                )
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(
                    self.name, f"{health_url} not healthy after {timeout_s:.0f} s\n{explain_log(self.log_path)}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the whole process group, then SIGKILL after `grace_s`."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> ManagedProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
