"""A scripted `/v1/completions` server that echoes prompts with known log-probabilities, in the legacy OpenAI
`logprobs` shape (tokens, token_logprobs, text_offset, top_logprobs) that vLLM and llama-cpp-python return.

Tokens are whitespace-led words (`\\s*\\S+`). A token's log-probability is `table[token]` when the token (with its
leading space) is in the table, else `default`; the first token has none, as on real servers. With `echo`, one
generated token " ." follows the prompt. Every answer counts the prompt's tokens in `usage.prompt_tokens`. With
`refuse_echo`, a request with `echo` is refused (like llama.cpp's llama-server). With `latency_s`, every POST is
answered that late, and `peak_before_first_answer` counts the most POSTs in flight before the first was answered.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_TOKEN = re.compile(r"\s*\S+|\s+$")


@dataclass
class LogprobScript:
    table: dict[str, float] = field(default_factory=dict)
    default: float = -1.0
    refuse_echo: bool = False
    # Tokens echoed before the prompt's own and counted nowhere (a server whose echo cannot be aligned).
    uncounted_prefix: tuple[str, ...] = ()
    requests: list[dict[str, Any]] = field(default_factory=list)
    latency_s: float = 0.0
    peak_before_first_answer: int = 0
    _in_flight: int = 0
    _answered: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def echo(self, prompt: str) -> dict[str, Any]:
        tokens, offsets, values = [], [], []
        for match in _TOKEN.finditer(prompt):
            tokens.append(match.group())
            offsets.append(match.start())
            values.append(self.table.get(match.group(), self.default))
        tokens[:0] = self.uncounted_prefix
        offsets[:0] = [0] * len(self.uncounted_prefix)
        values[:0] = [-1.0] * len(self.uncounted_prefix)
        values[0] = None
        tokens.append(" .")
        offsets.append(len(prompt))
        values.append(-0.1)
        tops = [None] + [{t: v} for t, v in zip(tokens[1:], values[1:], strict=True)]
        return {"tokens": tokens, "token_logprobs": values, "text_offset": offsets, "top_logprobs": tops}


class _Server(ThreadingHTTPServer):
    request_queue_size = 64  # connections that wait to be accepted (the default 5 delays a burst by a SYN retry)


class LogprobServer:
    """Runs in a background thread on a free port; `url` is the /v1 base address."""

    def __init__(self, script: LogprobScript) -> None:
        self.script = script
        outer = self

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
                self._send(200, {"data": [{"id": "scripted"}]} if self.path == "/v1/models" else {"status": "ok"})

            def do_POST(self) -> None:
                script = outer.script
                with script._lock:
                    script._in_flight += 1
                    if not script._answered:
                        script.peak_before_first_answer = max(script.peak_before_first_answer, script._in_flight)
                time.sleep(script.latency_s)
                with script._lock:  # before the answer leaves: a request it lets through counts after it
                    script._in_flight -= 1
                    script._answered = True
                self._answer()

            def _answer(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                outer.script.requests.append(body)
                if body.get("echo") and outer.script.refuse_echo:
                    self._send(400, {"error": {"message": "Only no echo is supported"}})
                    return
                logprobs = outer.script.echo(body["prompt"]) if body.get("echo") else None
                text = body["prompt"] + " ." if body.get("echo") else " ."
                choice = {"text": text, "index": 0, "finish_reason": "length", "logprobs": logprobs}
                usage = {"prompt_tokens": len(_TOKEN.findall(body["prompt"])), "completion_tokens": 1}
                self._send(200, {"choices": [choice], "usage": usage})

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> LogprobServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
