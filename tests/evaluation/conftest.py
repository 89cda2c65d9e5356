"""Fixtures of the grading tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class _FailingSandbox(BaseHTTPRequestHandler):
    """A sandbox that cannot run anything: process_status "failed", as ours answers when a slot cannot start."""

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"process_status": "failed", "stdout": "", "stderr": "sandbox could not start: boom\n"})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())


@pytest.fixture
def failing_sandbox() -> Iterator[str]:
    """The address of a sandbox that answers every run with process_status "failed"."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FailingSandbox)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
