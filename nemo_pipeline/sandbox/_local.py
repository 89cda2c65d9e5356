"""Start a sandbox server as a subprocess for the length of a `with` block."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from nemo_pipeline.errors import ServerStartError
from nemo_pipeline.process import TAIL_LINES, explain_log, tail
from nemo_pipeline.sandbox._client import SandboxClient

__all__ = ["LocalSandbox"]


class LocalSandbox:
    """A sandbox server on 127.0.0.1 and a free port, started on enter and stopped on exit.

    >>> with LocalSandbox(workers=4) as sandbox:
    ...     SandboxClient(sandbox.url).execute("print(1)")
    """

    def __init__(
        self,
        workers: int = 4,
        start_timeout_s: float = 60.0,
        log_path: str | os.PathLike[str] | None = None,
        allow_weak_isolation: bool = False,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.workers = workers
        self.start_timeout_s = start_timeout_s
        self.allow_weak_isolation = allow_weak_isolation
        self.extra_args = extra_args
        self._tmp = tempfile.TemporaryDirectory(prefix="nemo-sandbox-")
        self.log_path = Path(log_path) if log_path else Path(self._tmp.name) / "sandbox.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def command(self, port_file: Path) -> list[str]:
        argv = [sys.executable, "-m", "nemo_pipeline.sandbox", "--host", "127.0.0.1", "--port", "0"]
        argv += ["--port-file", str(port_file), "--workers", str(self.workers)]
        if self.allow_weak_isolation:
            argv.append("--allow-weak-isolation")
        return argv + list(self.extra_args)

    def start(self) -> str:
        """Start the server and wait (bounded) until /health answers; returns its URL."""
        port_file = Path(self._tmp.name) / "port"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(port_file), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + self.start_timeout_s
        while not port_file.exists():
            self._check_alive(deadline)
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{int(port_file.read_text())}"
        client = SandboxClient(self.url)
        try:
            while True:
                self._check_alive(deadline)
                try:
                    client.wait_healthy(timeout_s=min(2.0, max(0.1, deadline - time.monotonic())))
                    return self.url
                except Exception:
                    continue
        finally:
            client.close()

    def _check_alive(self, deadline: float) -> None:
        assert self.proc is not None
        code = self.proc.poll()
        if code is not None:
            raise ServerStartError("sandbox", f"exited with code {code} while starting\n{explain_log(self.log_path)}")
        if time.monotonic() > deadline:
            self.stop()
            raise ServerStartError(
                "sandbox", f"not healthy within {self.start_timeout_s:g}s\n{explain_log(self.log_path)}"
            )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = TAIL_LINES) -> str:
        return tail(self.log_path, lines)

    def __enter__(self) -> LocalSandbox:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        self._tmp.cleanup()
