"""The generation client's HTTP layer: one request/answer exchange, `HttpAnswer`, over one of two transports.

- `PlainHttp` for `http://` servers (a model server on the node or the cluster network, the usual case): HTTP/1.1
  keep-alive connections on asyncio protocols, answers parsed by httptools (llhttp, uvicorn's parser: Content-Length
  and chunked bodies). It costs about a fifth of aiohttp's client CPU per request (benchmarks/http_client_bench.py),
  which is what a generate stage with hundreds of requests in flight on two cores is bound by.
- `AiohttpTransport` for `https://` (hosted APIs): TLS, proxies and compression are aiohttp's.

Both raise `TransportError` for a connection that fails, closes or answers something that is not HTTP, and
`asyncio.TimeoutError` when the connection or a complete answer does not come within its timeout.
"""

from __future__ import annotations

import asyncio
import collections
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import httptools

__all__ = ["AiohttpTransport", "HttpAnswer", "PlainHttp", "Transport", "TransportError", "transport_for"]


class TransportError(Exception):
    """The connection failed, closed early, or the answer was not HTTP."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes
    retry_after: str | None = None  # the Retry-After header, when there is one


class Transport(Protocol):
    async def request(
        self, method: str, url: str, body: bytes | None, on_sent: Callable[[], None] | None = None
    ) -> HttpAnswer:
        """One exchange; `on_sent()` is called once the request is on its way (written to the connection)."""
        ...

    async def aclose(self) -> None: ...


def transport_for(base_url: str, headers: dict[str, str], timeout_s: float, connect_timeout_s: float) -> Transport:
    """`PlainHttp` for an http:// server, `AiohttpTransport` for anything else (https://)."""
    if urllib.parse.urlsplit(base_url).scheme == "http":
        return PlainHttp(base_url, headers, timeout_s, connect_timeout_s)
    return AiohttpTransport(headers, timeout_s, connect_timeout_s)


class _Exchange(asyncio.Protocol):
    """One keep-alive connection; one request at a time, its answer read by httptools."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._parser = httptools.HttpResponseParser(self)
        self._answer: asyncio.Future[HttpAnswer] | None = None
        self._chunks: list[bytes] = []
        self._retry_after: str | None = None
        self.keep_alive = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(TransportError(f"not an HTTP answer: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(TransportError(f"the server closed the connection before the answer was complete ({exc or 'EOF'})"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"retry-after":
            self._retry_after = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        answer = HttpAnswer(self._parser.get_status_code(), b"".join(self._chunks), self._retry_after)
        self.keep_alive = self._parser.should_keep_alive()
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(answer)

    def _fail(self, error: Exception) -> None:
        self.keep_alive = False
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)

    def send(self, request: bytes) -> asyncio.Future[HttpAnswer]:
        assert self.transport is not None
        self._parser = httptools.HttpResponseParser(self)
        self._chunks, self._retry_after = [], None
        self._answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._answer

    def close(self) -> None:
        self.keep_alive = False
        if self.transport is not None:
            self.transport.close()


def _expire(answer: asyncio.Future[HttpAnswer]) -> None:
    if not answer.done():
        answer.set_exception(asyncio.TimeoutError())


class PlainHttp:
    """HTTP/1.1 to one http:// server: keep-alive connections, as many as requests in flight, reused LIFO."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout_s: float, connect_timeout_s: float) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.hostname is None:
            raise ValueError(f"no host in {base_url!r}")
        self.host, self.port = parts.hostname, parts.port or 80
        self.timeout_s, self.connect_timeout_s = timeout_s, connect_timeout_s
        host_header = parts.netloc.rsplit("@", 1)[-1]
        lines = [f"Host: {host_header}", "Connection: keep-alive", *(f"{k}: {v}" for k, v in headers.items())]
        self._head = "\r\n".join(lines).encode("latin-1")
        self._idle: collections.deque[_Exchange] = collections.deque()

    async def request(
        self, method: str, url: str, body: bytes | None, on_sent: Callable[[], None] | None = None
    ) -> HttpAnswer:
        target = urllib.parse.urlsplit(url)
        path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        length = f"\r\nContent-Length: {len(body)}" if body is not None else ""
        request = f"{method} {path} HTTP/1.1\r\n".encode("latin-1") + self._head + length.encode() + b"\r\n\r\n"
        if body is not None:
            request += body
        while self._idle:
            exchange = self._idle.pop()
            if not exchange.closed:  # skip kept connections the server has closed since
                return await self._exchange(exchange, request, on_sent)
        return await self._exchange(await self._connect(), request, on_sent)

    async def _connect(self) -> _Exchange:
        loop = asyncio.get_running_loop()
        try:
            _, exchange = await asyncio.wait_for(
                loop.create_connection(_Exchange, self.host, self.port), self.connect_timeout_s
            )
        except OSError as exc:
            raise TransportError(f"cannot connect to {self.host}:{self.port}: {exc}") from None
        return exchange

    async def _exchange(self, exchange: _Exchange, request: bytes, on_sent: Callable[[], None] | None) -> HttpAnswer:
        done = False
        answer = exchange.send(request)
        if on_sent is not None:
            on_sent()
        expiry = asyncio.get_running_loop().call_later(self.timeout_s, _expire, answer)
        try:
            result = await answer
            done = True
            return result
        finally:
            expiry.cancel()
            if done and exchange.keep_alive and not exchange.closed:
                self._idle.append(exchange)
            else:
                exchange.close()  # failed, timed out or cancelled mid-answer: the connection cannot be reused

    async def aclose(self) -> None:
        while self._idle:
            self._idle.pop().close()


class AiohttpTransport:
    """aiohttp for https:// servers (TLS, proxies, compression)."""

    def __init__(self, headers: dict[str, str], timeout_s: float, connect_timeout_s: float) -> None:
        self.headers, self.timeout_s, self.connect_timeout_s = headers, timeout_s, connect_timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def request(
        self, method: str, url: str, body: bytes | None, on_sent: Callable[[], None] | None = None
    ) -> HttpAnswer:
        if on_sent is not None:
            on_sent()  # aiohttp does not say when it has written: say so as it starts
        if self._session is None:  # created inside the running loop, on first use
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30),
                timeout=aiohttp.ClientTimeout(total=self.timeout_s, sock_connect=self.connect_timeout_s),
                headers=self.headers,
            )
        try:
            async with self._session.request(method, url, data=body) as response:
                raw = await response.read()
                return HttpAnswer(response.status, raw, response.headers.get("Retry-After"))
        except aiohttp.ClientError as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
