"""Child processes with bounded waits: start in their own process group, wait for health with a deadline
(checking the child is alive, showing its log tail on failure), and always stop the whole group."""

from __future__ import annotations

import ctypes
import os
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

__all__ = ["ManagedProcess", "die_with_parent", "free_port", "http_ok", "tail"]


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGKILL when the process that started it dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def tail(path: str | Path, lines: int = 40, max_bytes: int = 64 * 1024) -> str:
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
                    f"exited with code {code} before {health_url} became healthy (log: {self.log_path})",
                    tail(self.log_path),
                )
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(
                    self.name,
                    f"{health_url} not healthy after {timeout_s:.0f} s (log: {self.log_path})",
                    tail(self.log_path),
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
