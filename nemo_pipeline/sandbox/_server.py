"""The sandbox HTTP server (standard library only), compatible with NeMo-Skills' sandbox requests.

    python -m nemo_pipeline.sandbox --port 6000 [--host 127.0.0.1] [--workers N] [--allow-weak-isolation]

GET /health            -> {"status": "ok", "isolation": {...}, "languages": {...}, "workers": N}
POST /execute          {generated_code, language, timeout, std_input, max_output_characters}
                       -> {process_status: completed|error|timeout|failed, stdout, stderr}
                       header X-Session-ID with language python/ipython: a stateful interpreter
GET /sessions, DELETE /sessions/<id>
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import signal
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from nemo_pipeline.sandbox._isolation import IsolationOptions, default_python, detect_isolation
from nemo_pipeline.sandbox._runner import (
    Job,
    RunResult,
    SandboxBusyError,
    SessionManager,
    SlotPool,
    languages_available,
    periodic,
    slot_count,
)

__all__ = ["SandboxServer", "ServerOptions", "main"]

LOG = logging.getLogger("nemo_pipeline.sandbox")

_LANGUAGE_ALIASES = {"python": "python", "python3": "python", "ipython": "python", "shell": "shell", "bash": "shell"}
_LANGUAGE_ALIASES.update({"pypy3": "pypy3", "pypy": "pypy3", "lean4": "lean4", "lean": "lean4"})
_CUT_MARK = "<output cut>"


class ServerOptions:
    """Settings of one server (from the command line)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.host: str = args.host
        self.port: int = args.port
        self.port_file: str | None = args.port_file
        self.workers: int = args.workers
        self.max_body_bytes: int = args.max_body_mb * 1024 * 1024
        self.max_timeout_s: float = args.max_timeout
        self.max_output_characters: int = args.max_output_characters
        self.queue_wait_s: float = args.queue_wait
        self.max_sessions: int = args.max_sessions
        self.session_idle_s: float = args.session_idle
        self.allow_weak: bool = args.allow_weak_isolation
        uid_base = args.uid_base or 100_000 + (os.getpid() % 40_000) * 128
        self.isolation = IsolationOptions(
            python=args.python or default_python(),
            bwrap=args.bwrap,
            uid_base=uid_base,
            memory_mb=args.memory_mb,
            max_processes=args.max_processes,
            max_open_files=args.max_open_files,
            max_file_size_mb=args.max_file_size_mb,
            tmp_size_mb=args.tmp_size_mb,
        )


class _BadRequestError(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def _cut(text: str, limit: int, truncated: bool) -> str:
    if len(text) > limit or truncated:
        return text[:limit] + _CUT_MARK
    return text


class SandboxServer:
    """Owns the isolation set-up, the worker slots and the sessions; serves HTTP until stopped."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.report, self.launcher, self.cgroups = detect_isolation(options.isolation)
        self.report.uids = (
            f"{options.isolation.uid_base}-{options.isolation.uid_base + slot_count(options.workers) - 1} (slots), "
            f"{options.isolation.uid_base + 64}-{options.isolation.uid_base + 63 + options.max_sessions} (sessions)"
            if self.launcher.drop_uid
            else f"{os.geteuid()} (the server's own)"
        )
        if self.launcher.drop_uid:
            self.report.uid_range = [options.isolation.uid_base, options.isolation.uid_base + 63 + options.max_sessions]
        self.languages = languages_available(options.isolation.python)
        self.pool: SlotPool | None = None
        self.sessions: SessionManager | None = None
        self.httpd: ThreadingHTTPServer | None = None
        self._stop = threading.Event()

    def check_isolation(self) -> None:
        """Log what is in force; raise SystemExit(2) on a missing layer unless weak isolation is allowed."""
        LOG.info("isolation: %s", json.dumps(self.report.as_dict()))
        if not self.report.missing:
            return
        lines = [f"  - {layer}: {why}" for layer, why in self.report.missing.items()]
        message = "SANDBOX ISOLATION IS WEAK; missing layers:\n" + "\n".join(lines)
        if self.options.allow_weak:
            LOG.warning("%s\n(continuing because --allow-weak-isolation was given)", message)
            return
        LOG.error("%s\nRefusing to start. Fix the above, or pass --allow-weak-isolation to run anyway.", message)
        raise SystemExit(2)

    def start(self) -> None:
        """Start slots and sessions, check one real execution, and bind the socket."""
        self.check_isolation()
        iso = self.options.isolation
        self.pool = SlotPool(self.launcher, self.cgroups, self.options.workers, iso.uid_base)
        self.sessions = SessionManager(
            self.launcher, self.cgroups, iso.uid_base, self.options.max_sessions, self.options.session_idle_s
        )
        probe = self.pool.run(Job("python", "-", b"print('ok')", b"", 20.0, 100), wait_s=60.0)
        if probe.process_status != "completed" or probe.stdout.strip() != "ok":
            self.close()
            LOG.error(
                "a test program failed in the sandbox (%s): %s\nIs the interpreter %s readable by other users? "
                "Choose one with --python.",
                probe.process_status,
                probe.stderr.strip()[-2000:],
                iso.python,
            )
            raise SystemExit(2)
        periodic(30.0, self.sessions.expire_idle, self._stop)
        handler = type("Handler", (_Handler,), {"server_state": self})
        self.httpd = _HTTPServer((self.options.host, self.options.port), handler)
        port = self.httpd.server_address[1]
        if self.options.port_file:
            tmp = Path(self.options.port_file + ".tmp")
            tmp.write_text(str(port))
            tmp.replace(self.options.port_file)
        LOG.info("sandbox listening on http://%s:%d with %d workers", self.options.host, port, self.options.workers)

    def serve_forever(self) -> None:
        assert self.httpd is not None
        self.httpd.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        if self.httpd is not None:
            threading.Thread(target=self.httpd.shutdown, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        if self.sessions is not None:
            self.sessions.close()
        if self.pool is not None:
            self.pool.close()
        if self.cgroups is not None:
            self.cgroups.remove_parents()
        if self.httpd is not None:
            self.httpd.server_close()

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "isolation": self.report.as_dict(),
            "languages": {name: note for name, (_, note) in self.languages.items()},
            "workers": self.options.workers,
        }

    def execute(self, body: dict[str, Any], session_id: str | None) -> dict[str, Any]:
        """Validate one /execute request and run it."""
        code = body.get("generated_code")
        if not isinstance(code, str):
            raise _BadRequestError(HTTPStatus.BAD_REQUEST, "'generated_code' must be a string")
        requested = body.get("language", "python")
        language = _LANGUAGE_ALIASES.get(str(requested).lower())
        if language is None:
            known = ", ".join(sorted(_LANGUAGE_ALIASES))
            raise _BadRequestError(HTTPStatus.BAD_REQUEST, f"unknown language {requested!r}; known: {known}")
        timeout = body.get("timeout", 10.0)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout):
            raise _BadRequestError(HTTPStatus.BAD_REQUEST, f"'timeout' must be a number of seconds, got {timeout!r}")
        if timeout <= 0:
            raise _BadRequestError(HTTPStatus.BAD_REQUEST, f"'timeout' must be positive, got {timeout}")
        timeout = min(float(timeout), self.options.max_timeout_s)
        std_input = body.get("std_input") or ""
        if not isinstance(std_input, str):
            raise _BadRequestError(HTTPStatus.BAD_REQUEST, "'std_input' must be a string")
        max_chars = body.get("max_output_characters", 1000)
        if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 0:
            raise _BadRequestError(HTTPStatus.BAD_REQUEST, f"'max_output_characters' must be >= 0, got {max_chars!r}")
        max_chars = min(max_chars, self.options.max_output_characters)
        tool, note = self.languages[language]
        if tool is None:
            result = RunResult("failed", "", f"language {requested!r} is {note}\n")
        elif session_id is not None and language == "python":
            assert self.sessions is not None
            result = self.sessions.run(session_id, code.encode(), timeout, 4 * max_chars + 4)
        else:
            assert self.pool is not None
            job = Job(language, tool, code.encode(), std_input.encode(), timeout, 4 * max_chars + 4)
            result = self.pool.run(job, wait_s=self.options.queue_wait_s)
        response: dict[str, Any] = {
            "process_status": result.process_status,
            "stdout": _cut(result.stdout, max_chars, result.stdout_truncated),
            "stderr": _cut(result.stderr, max_chars, result.stderr_truncated),
        }
        if session_id is not None and language == "python":
            response["new_session_created"] = result.new_session_created
        return response


class _HTTPServer(ThreadingHTTPServer):
    request_queue_size = 256  # the default listen backlog of 5 drops bursts of concurrent clients
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server_version = "nemo-pipeline-sandbox/0.1"
    timeout = 120  # seconds a client may stall while sending a request
    server_state: SandboxServer

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s - %s", self.address_string(), format % args)

    def _send_json(self, status: HTTPStatus, payload: dict[str, Any], close: bool = False) -> None:
        data = json.dumps(payload).encode()
        head = [
            f"{self.protocol_version} {status.value} {status.phrase}",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            "Content-Type: application/json",
            f"Content-Length: {len(data)}",
        ]
        if close:
            head.append("Connection: close")
            self.close_connection = True
        if LOG.isEnabledFor(logging.DEBUG):
            self.log_request(status.value)
        # One write for headers and body: one segment, one wake-up of the client.
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)

    def _error(self, status: HTTPStatus, message: str, close: bool = False) -> None:
        LOG.info("%s %s -> %d: %s", self.command, self.path, status, message)
        payload = {"error": message, "process_status": "failed", "stdout": "", "stderr": message + "\n"}
        self._send_json(status, payload, close=close)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send_json(HTTPStatus.OK, self.server_state.health())
        elif self.path == "/sessions":
            assert self.server_state.sessions is not None
            self._send_json(HTTPStatus.OK, {"sessions": self.server_state.sessions.list()})
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: GET {self.path}")

    def do_DELETE(self) -> None:
        prefix = "/sessions/"
        if not self.path.startswith(prefix):
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: DELETE {self.path}")
            return
        session_id = self.path[len(prefix) :]
        assert self.server_state.sessions is not None
        if self.server_state.sessions.delete(session_id):
            self._send_json(HTTPStatus.OK, {"message": f"session {session_id} deleted"})
        else:
            self._error(HTTPStatus.NOT_FOUND, f"session {session_id} not found")

    def do_POST(self) -> None:
        if self.path != "/execute":
            self._error(HTTPStatus.NOT_FOUND, f"no such endpoint: POST {self.path}", close=True)
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._error(HTTPStatus.LENGTH_REQUIRED, "chunked bodies are not accepted; send Content-Length", True)
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._error(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required", close=True)
            return
        limit = self.server_state.options.max_body_bytes
        if length > limit or length < 0:
            # Read and discard a moderately large body so the client sees the answer rather than a reset.
            to_drain = min(max(length, 0), 8 * limit)
            while to_drain > 0:
                chunk = self.rfile.read(min(to_drain, 1 << 20))
                if not chunk:
                    break
                to_drain -= len(chunk)
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request body of {length} bytes exceeds {limit}", True)
            return
        raw = self.rfile.read(length)
        if len(raw) != length:
            self.close_connection = True
            return
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._error(HTTPStatus.BAD_REQUEST, f"request body is not valid JSON: {exc}")
            return
        if not isinstance(body, dict):
            self._error(HTTPStatus.BAD_REQUEST, "request body must be a JSON object")
            return
        started = time.monotonic()
        try:
            response = self.server_state.execute(body, self.headers.get("X-Session-ID"))
        except _BadRequestError as exc:
            self._error(exc.status, str(exc))
            return
        except SandboxBusyError as exc:
            self._error(HTTPStatus.SERVICE_UNAVAILABLE, str(exc))
            return
        except Exception as exc:  # the server must survive anything a request does
            LOG.exception("execute failed")
            self._send_json(
                HTTPStatus.OK, {"process_status": "failed", "stdout": "", "stderr": f"sandbox internal error: {exc}\n"}
            )
            return
        LOG.debug("execute %s in %.1f ms", response["process_status"], 1000 * (time.monotonic() - started))
        self._send_json(HTTPStatus.OK, response)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nemo_pipeline.sandbox",
        description="Code-execution sandbox: bubblewrap namespaces, an unprivileged uid per worker, rlimits, cgroups.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=6000, help="port to bind; 0 picks a free one (see --port-file)")
    parser.add_argument("--port-file", help="write the bound port to this file once listening")
    parser.add_argument("--workers", type=int, default=max(2, 2 * (os.cpu_count() or 1)), help="parallel executions")
    parser.add_argument("--python", help="interpreter for python code (default: /usr/bin/python3 when present)")
    parser.add_argument("--bwrap", default="bwrap", help="bubblewrap executable")
    parser.add_argument("--uid-base", type=int, default=0, help="first sandbox uid (default: derived from the pid)")
    parser.add_argument("--memory-mb", type=int, default=2048, help="address-space and cgroup memory limit per run")
    parser.add_argument("--max-processes", type=int, default=64, help="processes per run (rlimit and cgroup)")
    parser.add_argument("--max-open-files", type=int, default=256)
    parser.add_argument("--max-file-size-mb", type=int, default=256)
    parser.add_argument("--tmp-size-mb", type=int, default=256, help="size of the private /tmp")
    parser.add_argument("--max-body-mb", type=int, default=10, help="larger request bodies get 413")
    parser.add_argument("--max-timeout", type=float, default=600.0, help="cap on a request's timeout (s)")
    parser.add_argument("--max-output-characters", type=int, default=1_000_000, help="cap on each output stream")
    parser.add_argument("--queue-wait", type=float, default=600.0, help="how long a request may wait for a slot (s)")
    parser.add_argument("--max-sessions", type=int, default=32)
    parser.add_argument("--session-idle", type=float, default=900.0, help="idle sessions are closed after this (s)")
    parser.add_argument(
        "--allow-weak-isolation",
        action="store_true",
        help="start even when an isolation layer (bubblewrap, uid drop, cgroups) is unavailable",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox server until SIGINT/SIGTERM."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if not 1 <= args.workers <= 64:
        LOG.error("--workers must be between 1 and 64, got %d", args.workers)
        return 2
    if not 0 <= args.max_sessions <= 64:
        LOG.error("--max-sessions must be between 0 and 64, got %d", args.max_sessions)
        return 2
    server = SandboxServer(ServerOptions(args))
    try:
        server.start()
    except SystemExit as exc:
        server.close()
        return int(exc.code or 2)
    except OSError as exc:
        server.close()
        LOG.error("cannot listen on %s:%d: %s", args.host, args.port, exc)
        return 2

    def stop(signum: int, _frame: object) -> None:
        LOG.info("signal %d: shutting down", signum)
        server.shutdown()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        server.close()
    return 0
