"""A scripted OpenAI-compatible server for fast tests (never the only proof: e2e tests use real llama.cpp).

The answer to a prompt is looked up in `answers` by the last "Question:" text (or the whole prompt); the server can
fail the first `fail_first` requests with 503 and delay each answer by `delay_s`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Script:
    answers: dict[str, str] = field(default_factory=dict)
    default: str = "I do not know."
    fail_first: int = 0
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reply(self, prompt: str) -> str:
        for key, answer in self.answers.items():
            if key in prompt.rsplit("Question:", 1)[-1]:
                return answer
        return self.default


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path in ("/health", "/v1/health"):
                self._send(200, {"status": "ok"})
            elif self.path == "/v1/models":
                self._send(200, {"data": [{"id": "scripted-model"}]})
            else:
                self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            with script.lock:
                script.requests.append(body)
                fail = len(script.requests) <= script.fail_first
            if fail:
                self._send(503, {"error": "scripted failure"})
                return
            time.sleep(script.delay_s)
            if self.path == "/v1/completions":
                text = script.reply(body.get("prompt", ""))
                choice: dict[str, Any] = {"text": text, "finish_reason": "stop", "index": 0}
            elif self.path == "/v1/chat/completions":
                text = script.reply(body["messages"][-1]["content"])
                choice = {"message": {"role": "assistant", "content": text}, "finish_reason": "stop", "index": 0}
            else:
                self._send(404, {"error": "not found"})
                return
            usage = {"completion_tokens": len(text.split()), "prompt_tokens": 1}
            self._send(200, {"choices": [choice], "usage": usage, "model": body.get("model")})

    return Handler


class ScriptedServer:
    """Runs in a background thread on a free port; `url` is the /v1 base address."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
