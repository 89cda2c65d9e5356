"""A scripted OpenAI-compatible server on asyncio, fast enough to sustain thousands of requests a second, for the
client's fault tests and the throughput benchmark.

It models a server with `slots` request slots that each take `latency_s`: requests beyond the slots wait in a
queue (a queueing server, ideal rate slots / latency_s), or, with `rate_limit` set, get 429 + `Retry-After` when
`rate_limit` are already in progress. `faults` scripts failures per item: a key found in the prompt maps to the
faults its successive attempts meet ("reset", "truncated", "invalid", "429", "503", "hang", "die"; "ok" passes).

The answer names the question it answers ("Answer to: <last Question: text>"), so a test can check each item got
its own answer. GET /stats reports what the server saw (requests, statuses, the most in flight at once, its CPU
time, the time from the first request to the last answer); POST /reset clears it.

Run in a thread (`with QueueServer(ServerScript(...)) as server: server.url`) or as a process for benchmarks:
`python -m tests.fakes.queue_server --slots 64 --latency 0.2` prints `URL <base url>` and serves until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

_REASONS = {200: "OK", 404: "Not Found", 429: "Too Many Requests", 503: "Service Unavailable"}


@dataclass
class ServerScript:
    slots: int = 1_000_000
    latency_s: float = 0.0
    rate_limit: int | None = None  # answer 429 when this many requests are already in progress
    retry_after_s: float = 0.5
    faults: dict[str, list[str]] = field(default_factory=dict)
    down_s: float = 1.0  # how long a "die" fault keeps the server away
    fixed_answer: str | None = None  # skip reading the prompt (benchmarks): every answer is this text


@dataclass
class Stats:
    requests: int = 0
    answered: int = 0
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    faults: collections.Counter[str] = field(default_factory=collections.Counter)
    active: int = 0
    max_active: int = 0
    first_arrival: float | None = None
    last_answer: float | None = None
    arrivals: list[tuple[float, str, str]] = field(default_factory=list)  # (time, fault or status, question)
    cpu_start: float = field(default_factory=time.process_time)

    def as_json(self) -> dict[str, Any]:
        window = (self.last_answer or 0.0) - (self.first_arrival or 0.0)
        return {
            "requests": self.requests,
            "answered": self.answered,
            "statuses": dict(self.statuses),
            "faults": dict(self.faults),
            "max_active": self.max_active,
            "window_s": max(window, 0.0),
            "cpu_s": time.process_time() - self.cpu_start,
        }


class _Connection(asyncio.Protocol):
    def __init__(self, server: _Server) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            length = 0
            for line in head[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, path = head[0].split(" ")[:2]
            self.server.handle(self, method, path, body)

    def send(self, status: int, payload: bytes, extra: str = "") -> None:
        if self.transport is None or self.transport.is_closing():
            return
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n{extra}\r\n"
        )
        self.transport.write(head.encode() + payload)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


class _Server:
    def __init__(self, script: ServerScript, loop: asyncio.AbstractEventLoop) -> None:
        self.script = script
        self.loop = loop
        self.stats = Stats()
        self.running = 0
        self.queue: collections.deque[tuple[_Connection, bytes]] = collections.deque()
        self.connections: set[_Connection] = set()
        self.listener: asyncio.base_events.Server | None = None
        self.port = 0
        self.attempts: collections.Counter[str] = collections.Counter()

    async def listen(self, port: int = 0) -> None:
        self.listener = await self.loop.create_server(
            lambda: _Connection(self), "127.0.0.1", port, reuse_address=True, backlog=4096
        )
        self.port = self.listener.sockets[0].getsockname()[1]

    def handle(self, conn: _Connection, method: str, path: str, body: bytes) -> None:
        if method == "GET":
            if path in ("/health", "/v1/health"):
                conn.send(200, b'{"status": "ok"}')
            elif path == "/v1/models":
                conn.send(200, b'{"data": [{"id": "scripted-model"}]}')
            elif path == "/stats":
                conn.send(200, json.dumps(self.stats.as_json()).encode())
            else:
                conn.send(404, b'{"error": "not found"}')
            return
        if path == "/reset":
            self.stats = Stats()
            conn.send(200, b"{}")
            return
        if path not in ("/v1/completions", "/v1/chat/completions"):
            conn.send(404, b'{"error": "not found"}')
            return
        now = time.perf_counter()
        stats = self.stats
        stats.requests += 1
        if stats.first_arrival is None:
            stats.first_arrival = now
        if self.script.fixed_answer is not None:
            text, fault, question = self.script.fixed_answer, "ok", ""
        else:
            request = json.loads(body)
            prompt = request.get("prompt") if "prompt" in request else request["messages"][-1]["content"]
            question = str(prompt).rsplit("Question:", 1)[-1].strip().split("\n")[0]
            text, fault = f"Answer to: {question}", self._fault_for(question)
        if fault != "ok":
            stats.faults[fault] += 1
            stats.arrivals.append((now, fault, question))
            self._fault(conn, fault)
            return
        if self.script.rate_limit is not None and self.running >= self.script.rate_limit:
            stats.statuses["429"] += 1
            stats.arrivals.append((now, "429", question))
            conn.send(429, b'{"error": "rate limited"}', f"Retry-After: {self.script.retry_after_s:g}\r\n")
            return
        stats.arrivals.append((now, "200", question))
        choice: dict[str, Any] = (
            {"text": text, "finish_reason": "stop", "index": 0}
            if path == "/v1/completions"
            else {"message": {"role": "assistant", "content": text}, "finish_reason": "stop", "index": 0}
        )
        payload = json.dumps({"choices": [choice], "usage": {"completion_tokens": len(text.split())}}).encode()
        stats.active += 1
        stats.max_active = max(stats.max_active, stats.active)
        if self.running < self.script.slots:
            self._start(conn, payload)
        else:
            self.queue.append((conn, payload))

    def _fault_for(self, question: str) -> str:
        for key, plan in self.script.faults.items():
            if key in question:
                attempt = self.attempts[key]
                self.attempts[key] += 1
                return plan[attempt] if attempt < len(plan) else "ok"
        return "ok"

    def _fault(self, conn: _Connection, fault: str) -> None:
        if fault == "reset":  # a response cut off mid-way, then the connection reset
            if conn.transport is not None:
                conn.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{")
            self.loop.call_soon(conn.abort)
        elif fault == "truncated":  # a complete HTTP answer whose JSON is cut short
            conn.send(200, b'{"choices": [{"text": "The answ')
        elif fault == "invalid":
            conn.send(200, b"<html>bad gateway</html>")
        elif fault in ("429", "503"):
            conn.send(int(fault), b'{"error": "busy"}', f"Retry-After: {self.script.retry_after_s:g}\r\n")
        elif fault == "hang":
            pass  # accept, read, never answer
        elif fault == "die":
            self.loop.create_task(self._outage())
        else:
            raise ValueError(f"unknown fault {fault!r}")

    async def _outage(self) -> None:
        assert self.listener is not None
        self.listener.close()
        for conn in list(self.connections):
            conn.abort()
        await asyncio.sleep(self.script.down_s)
        await self.listen(self.port)

    def _start(self, conn: _Connection, payload: bytes) -> None:
        self.running += 1
        if self.script.latency_s > 0:
            self.loop.call_later(self.script.latency_s, self._finish, conn, payload)
        else:
            self._finish(conn, payload)

    def _finish(self, conn: _Connection, payload: bytes) -> None:
        conn.send(200, payload)
        stats = self.stats
        stats.active -= 1
        stats.answered += 1
        stats.statuses["200"] += 1
        stats.last_answer = time.perf_counter()
        self.running -= 1
        if self.queue and self.running < self.script.slots:
            self._start(*self.queue.popleft())


class QueueServer:
    """The server on its own event loop in a background thread; `url` is the /v1 base address."""

    def __init__(self, script: ServerScript) -> None:
        self.script = script
        self._loop = asyncio.new_event_loop()
        self._server = _Server(script, self._loop)
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.url = ""

    @property
    def stats(self) -> Stats:
        return self._server.stats

    def __enter__(self) -> QueueServer:
        self._loop.run_until_complete(self._server.listen())
        self.url = f"http://127.0.0.1:{self._server.port}/v1"
        self._thread.start()
        return self

    def outage(self, seconds: float) -> None:
        """Drop every connection and refuse new ones for `seconds` (a crash and restart)."""
        self.script.down_s = seconds
        asyncio.run_coroutine_threadsafe(self._server._outage(), self._loop)

    def __exit__(self, *exc: object) -> None:
        async def _close() -> None:
            if self._server.listener is not None:
                self._server.listener.close()
            for conn in list(self._server.connections):
                conn.abort()

        asyncio.run_coroutine_threadsafe(_close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slots", type=int, default=1_000_000)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--rate-limit", type=int, default=None)
    parser.add_argument("--retry-after", type=float, default=0.5)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--answer", default="The answer is 42.", help="fixed answer (no prompt parsing)")
    args = parser.parse_args(argv)
    script = ServerScript(
        slots=args.slots,
        latency_s=args.latency,
        rate_limit=args.rate_limit,
        retry_after_s=args.retry_after,
        fixed_answer=args.answer,
    )
    loop = asyncio.new_event_loop()
    server = _Server(script, loop)
    loop.run_until_complete(server.listen(args.port))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    print(f"URL http://127.0.0.1:{server.port}/v1", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        loop.run_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
