"""Client of the sandbox HTTP API (ours or NeMo-Skills'), sync and async, with bounded retries and waits."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from nemo_pipeline.errors import SandboxError

__all__ = ["ExecutionResult", "SandboxClient"]

LOG = logging.getLogger(__name__)

# Errors raised before the request reached the server (or when a kept-alive connection was closed under us):
# safe to retry, the program did not run.
_RETRYABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.PoolTimeout)


@dataclass(frozen=True)
class ExecutionResult:
    """One execution: `process_status` is completed | error | timeout | failed."""

    process_status: str
    stdout: str
    stderr: str
    new_session_created: bool = False

    @property
    def ok(self) -> bool:
        return self.process_status == "completed"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExecutionResult:
        return cls(
            process_status=str(data.get("process_status", "failed")),
            stdout=str(data.get("stdout", "")),
            stderr=str(data.get("stderr", "")),
            new_session_created=bool(data.get("new_session_created", False)),
        )


class _ConnectionLostError(ConnectionError):
    """The server closed or broke the connection before a whole response arrived (`partial`: after some of it)."""

    def __init__(self, message: str, partial: bool = False) -> None:
        super().__init__(message)
        self.partial = partial


class _AsyncHTTP:
    """Kept-alive HTTP/1.1 connections to one plain-http server, for POSTs of JSON from the async path.

    httpx costs about a millisecond of CPU per request, as much as a sandboxed `print(1)`'s own overhead; this
    writes the request in one piece and reads a Content-Length, chunked or read-to-close response.
    """

    def __init__(self, host: str, port: int, prefix: str) -> None:
        self.host = host
        self.port = port
        self.prefix = prefix
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.loop: asyncio.AbstractEventLoop | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST `body` (JSON) to `path`; returns (status, response body). OSError when the connection fails."""
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # connections belong to the loop that opened them
            self.idle, self.loop = [], loop
        while self.idle:  # a kept-alive connection the server closed while idle: try the next, then a new one
            reader, writer = self.idle.pop()
            try:
                return await self._exchange(reader, writer, path, body, headers)
            except _ConnectionLostError as exc:
                if exc.partial:
                    raise
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return await self._exchange(reader, writer, path, body, headers)

    async def _exchange(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        path: str,
        body: bytes,
        headers: dict[str, str],
    ) -> tuple[int, bytes]:
        lines = [
            f"POST {self.prefix}{path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            "Accept: application/json",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        try:
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
            status, data, keep = await self._response(reader)
        except (ConnectionResetError, BrokenPipeError) as exc:
            writer.close()
            raise _ConnectionLostError(str(exc)) from exc
        except BaseException:
            writer.close()
            raise
        if keep:
            self.idle.append((reader, writer))
        else:
            writer.close()
        return status, data

    async def _response(self, reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            raise _ConnectionLostError(f"no complete response: {exc}", partial=bool(exc.partial)) from exc
        except asyncio.LimitOverrunError as exc:
            raise _ConnectionLostError(f"response headers too long: {exc}", partial=True) from exc
        status_line, _, header_lines = head.decode("latin-1").partition("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise _ConnectionLostError(f"not an HTTP response: {status_line[:100]!r}", partial=True)
        fields: dict[str, str] = {}
        for line in header_lines.split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                fields[name.strip().lower()] = value.strip()
        keep = parts[0] == "HTTP/1.1" and fields.get("connection", "").lower() != "close"
        try:
            if "chunked" in fields.get("transfer-encoding", "").lower():
                chunks = []
                while True:
                    size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
                    chunk = await reader.readexactly(size + 2)
                    if size == 0:
                        break
                    chunks.append(chunk[:-2])
                data = b"".join(chunks)
            elif "content-length" in fields:
                data = await reader.readexactly(int(fields["content-length"]))
            else:
                data, keep = await reader.read(), False
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            raise _ConnectionLostError(f"incomplete response body: {exc}", partial=True) from exc
        return int(parts[1]), data, keep

    def close(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle = []


class SandboxClient:
    """Talks to a sandbox at `url` (e.g. http://127.0.0.1:6000).

    Connection errors are retried `retries` times with exponential backoff; then `SandboxError` names the URL.
    A request that outlives the program's timeout by `margin_s` comes back as process_status "timeout".
    """

    def __init__(self, url: str, retries: int = 4, backoff_s: float = 0.25, margin_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.retries = retries
        self.backoff_s = backoff_s
        self.margin_s = margin_s
        self._sync: httpx.Client | None = None
        self._async: httpx.AsyncClient | None = None
        split = urlsplit(self.url)
        self._fast: _AsyncHTTP | None = None
        if split.scheme == "http" and split.hostname and not split.query and "@" not in split.netloc:
            self._fast = _AsyncHTTP(split.hostname, split.port or 80, split.path)

    # -- plumbing ---------------------------------------------------------------------------------------------
    def _request_args(
        self,
        code: str,
        language: str,
        timeout: float,
        std_input: str,
        max_output_characters: int,
        session_id: str | None,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        body = {
            "generated_code": code,
            "language": language,
            "timeout": timeout,
            "std_input": std_input,
            "max_output_characters": max_output_characters,
        }
        headers = {"X-Session-ID": session_id} if session_id is not None else {}
        return body, headers

    def _parse(self, response: httpx.Response) -> ExecutionResult:
        return self._parse_body(response.status_code, response.content)

    def _parse_body(self, status_code: int, content: bytes) -> ExecutionResult:
        try:
            data = json.loads(content)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            text = content.decode("utf-8", errors="replace")
            raise SandboxError(f"sandbox at {self.url} answered HTTP {status_code} with a non-JSON body: {text[:300]}")
        if status_code != 200:
            raise SandboxError(
                f"sandbox at {self.url} refused the request (HTTP {status_code}): {data.get('error', data)}"
            )
        return ExecutionResult.from_json(data)

    def _give_up(self, exc: Exception) -> SandboxError:
        return SandboxError(
            f"cannot reach the sandbox at {self.url} after {self.retries + 1} attempts: {type(exc).__name__}: {exc}. "
            "Is it running? Start one with: python -m nemo_pipeline.sandbox --port <port>"
        )

    def _timed_out(self, timeout: float) -> ExecutionResult:
        return ExecutionResult(
            "timeout", "", f"client gave up waiting for the sandbox at {self.url} after {timeout + self.margin_s:g}s\n"
        )

    # -- sync -------------------------------------------------------------------------------------------------
    def _client(self) -> httpx.Client:
        if self._sync is None:
            self._sync = httpx.Client(timeout=httpx.Timeout(30.0), limits=httpx.Limits(max_connections=256))
        return self._sync

    def execute(
        self,
        code: str,
        language: str = "python",
        timeout: float = 10.0,
        std_input: str = "",
        max_output_characters: int = 10_000,
        session_id: str | None = None,
    ) -> ExecutionResult:
        """Run `code` in the sandbox and wait for its result."""
        body, headers = self._request_args(code, language, timeout, std_input, max_output_characters, session_id)
        for attempt in range(self.retries + 1):
            try:
                response = self._client().post(
                    f"{self.url}/execute", json=body, headers=headers, timeout=timeout + self.margin_s
                )
                return self._parse(response)
            except httpx.ReadTimeout:
                return self._timed_out(timeout)
            except _RETRYABLE as exc:
                if attempt == self.retries:
                    raise self._give_up(exc) from exc
                LOG.warning("sandbox %s: %s; retrying (%d/%d)", self.url, exc, attempt + 1, self.retries)
                time.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    def health(self, timeout_s: float = 5.0) -> dict[str, Any]:
        """GET /health; raises httpx errors as they come."""
        response = self._client().get(f"{self.url}/health", timeout=timeout_s)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def wait_healthy(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """Poll /health until it answers 200, at most `timeout_s`; SandboxError names the URL otherwise."""
        deadline = time.monotonic() + timeout_s
        last: Exception | None = None
        while True:
            try:
                return self.health(timeout_s=min(5.0, max(0.1, deadline - time.monotonic())))
            except (httpx.HTTPError, ValueError) as exc:
                last = exc
            if time.monotonic() >= deadline:
                raise SandboxError(
                    f"sandbox at {self.url} did not become healthy within {timeout_s:g}s (last error: {last})"
                )
            time.sleep(0.1)

    def delete_session(self, session_id: str) -> bool:
        """Close a stateful session; False if the server did not know it."""
        response = self._client().delete(f"{self.url}/sessions/{session_id}", timeout=10.0)
        return response.status_code == 200

    def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None

    def __enter__(self) -> SandboxClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- async ------------------------------------------------------------------------------------------------
    def _aclient(self) -> httpx.AsyncClient:
        if self._async is None:
            self._async = httpx.AsyncClient(timeout=httpx.Timeout(30.0), limits=httpx.Limits(max_connections=256))
        return self._async

    async def execute_async(
        self,
        code: str,
        language: str = "python",
        timeout: float = 10.0,
        std_input: str = "",
        max_output_characters: int = 10_000,
        session_id: str | None = None,
    ) -> ExecutionResult:
        """Async `execute`: same arguments, same retries."""
        body, headers = self._request_args(code, language, timeout, std_input, max_output_characters, session_id)
        if self._fast is not None:
            return await self._execute_fast(self._fast, body, headers, timeout)
        for attempt in range(self.retries + 1):
            try:
                response = await self._aclient().post(
                    f"{self.url}/execute", json=body, headers=headers, timeout=timeout + self.margin_s
                )
                return self._parse(response)
            except httpx.ReadTimeout:
                return self._timed_out(timeout)
            except _RETRYABLE as exc:
                if attempt == self.retries:
                    raise self._give_up(exc) from exc
                LOG.warning("sandbox %s: %s; retrying (%d/%d)", self.url, exc, attempt + 1, self.retries)
                await asyncio.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    async def _execute_fast(
        self, http: _AsyncHTTP, body: dict[str, Any], headers: dict[str, str], timeout: float
    ) -> ExecutionResult:
        payload = json.dumps(body).encode()
        for attempt in range(self.retries + 1):
            try:
                status, content = await asyncio.wait_for(
                    http.post("/execute", payload, headers), timeout=timeout + self.margin_s
                )
                return self._parse_body(status, content)
            except asyncio.TimeoutError:
                return self._timed_out(timeout)
            except OSError as exc:  # refused, reset, or a kept-alive connection closed under us
                if attempt == self.retries:
                    raise self._give_up(exc) from exc
                LOG.warning("sandbox %s: %s; retrying (%d/%d)", self.url, exc, attempt + 1, self.retries)
                await asyncio.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        if self._fast is not None:
            self._fast.close()
        if self._async is not None:
            await self._async.aclose()
            self._async = None
        self.close()
