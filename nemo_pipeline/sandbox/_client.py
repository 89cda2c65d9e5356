"""Client of the sandbox HTTP API (ours or NeMo-Skills'), sync and async, with bounded retries and waits."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

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
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise SandboxError(
                f"sandbox at {self.url} answered HTTP {response.status_code} with a non-JSON body: "
                f"{response.text[:300]}"
            )
        if response.status_code != 200:
            raise SandboxError(
                f"sandbox at {self.url} refused the request (HTTP {response.status_code}): {data.get('error', data)}"
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

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
            self._async = None
        self.close()
