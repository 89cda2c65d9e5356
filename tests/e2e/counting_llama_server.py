"""Stands in for llama-server (via `LLAMA_SERVER_BIN`): starts the real one on a private port and serves a proxy on
the requested `--port` that appends every POST body, as one JSON line, to `$COUNTING_PROXY_LOG`.

Usage: python counting_llama_server.py <llama-server arguments>; `$REAL_LLAMA_SERVER_BIN` is the real binary. The
real server dies with this process (SIGTERM is passed on; PR_SET_PDEATHSIG covers SIGKILL), as llama-server itself
would when its parent dies.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from nemo_pipeline.process import die_with_parent, free_port


def _handler(backend_port: int, log_path: str, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _forward(self, body: bytes | None) -> None:
            upstream = http.client.HTTPConnection("127.0.0.1", backend_port, timeout=600)
            try:
                headers = {"Content-Type": self.headers.get("Content-Type", "application/json")}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                payload = response.read()
            except OSError as exc:
                payload, status = json.dumps({"error": f"proxy: {exc}"}).encode(), 502
            else:
                status = response.status
            finally:
                upstream.close()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._forward(None)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock, open(log_path, "a") as log:
                log.write(json.dumps({"path": self.path, "body": json.loads(body or b"{}")}) + "\n")
                log.flush()
            self._forward(body)

    return Proxy


def main(argv: list[str]) -> int:
    at = argv.index("--port")
    port = int(argv[at + 1])
    host = argv[argv.index("--host") + 1] if "--host" in argv else "127.0.0.1"
    backend_port = free_port()
    real = [os.environ["REAL_LLAMA_SERVER_BIN"], *argv[:at], "--port", str(backend_port), *argv[at + 2 :]]
    child = subprocess.Popen(real, preexec_fn=die_with_parent)
    print(f"counting proxy: port {port} -> llama-server on port {backend_port}", flush=True)

    def stop(signum: int, _frame: object) -> None:
        child.send_signal(signum)
        child.wait(timeout=30)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    proxy = ThreadingHTTPServer(
        (host, port), _handler(backend_port, os.environ["COUNTING_PROXY_LOG"], threading.Lock())
    )
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
