"""A scripted OpenAI-compatible server for fast tests (never the only proof: e2e tests use real llama.cpp).

The answer to a prompt is looked up in `answers` by the last "Question:" text (or the whole prompt); the server can
fail the first `fail_first` requests with 503 and delay each answer by `delay_s`.

For multi-step tests, `responder(path, body)` (if set) computes the reply from the whole request instead, and
`apply_stop` makes the server cut the reply at the first of the request's stop strings like a real server
(finish_reason "stop"), keeping the stop string in the text when `include_stop` is set (as some servers do);
`apply_max_tokens` cuts it after the request's `max_tokens` words (finish_reason "length").
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Script:
    answers: dict[str, str] = field(default_factory=dict)
    default: str = "I do not know."
    fail_first: int = 0
    fail_status: int = 503
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    responder: Callable[[str, dict[str, Any]], str] | None = None
    apply_stop: bool = False
    include_stop: bool = False
    apply_max_tokens: bool = False

    def cut_at_max_tokens(self, text: str, max_tokens: int | None) -> tuple[str, str]:
        """(text, finish_reason): with `apply_max_tokens`, the text ends after `max_tokens` words ("length")."""
        words = list(re.finditer(r"\S+", text))
        if not self.apply_max_tokens or max_tokens is None or len(words) <= max_tokens:
            return text, "stop"
        return (text[: words[max_tokens - 1].end()] if max_tokens > 0 else ""), "length"

    def cut_at_stop(self, text: str, stops: list[str]) -> str:
        """`text` up to the first stop string (kept when `include_stop`), as a real server returns it."""
        hits = [(text.find(s), s) for s in stops if s and s in text]
        if not self.apply_stop or not hits:
            return text
        at, stop = min(hits)
        return text[: at + len(stop)] if self.include_stop else text[:at]

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
                self._send(script.fail_status, {"error": "scripted failure"})
                return
            time.sleep(script.delay_s)
            if self.path not in ("/v1/completions", "/v1/chat/completions"):
                self._send(404, {"error": "not found"})
                return
            if script.responder is not None:
                text = script.responder(self.path, body)
            elif self.path == "/v1/completions":
                text = script.reply(body.get("prompt", ""))
            else:
                text = script.reply(body["messages"][-1]["content"])
            text = script.cut_at_stop(text, list(body.get("stop") or []))
            text, finish = script.cut_at_max_tokens(text, body.get("max_tokens"))
            if self.path == "/v1/completions":
                choice: dict[str, Any] = {"text": text, "finish_reason": finish, "index": 0}
            else:
                choice = {"message": {"role": "assistant", "content": text}, "finish_reason": finish, "index": 0}
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
