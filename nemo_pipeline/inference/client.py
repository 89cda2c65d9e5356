"""An async client for OpenAI-compatible servers: completions and chat, bounded retries with backoff on
transient errors (connection failures, 408/429/5xx), and a clear error for everything else."""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from typing import Any

import httpx

from nemo_pipeline.errors import NemoPipelineError

__all__ = ["Completion", "OpenAIClient", "RequestError", "SamplingParams"]

log = logging.getLogger(__name__)

_TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class RequestError(NemoPipelineError):
    """The server refused a request, or kept failing after every retry."""


@dataclass(frozen=True)
class SamplingParams:
    temperature: float
    top_p: float
    top_k: int
    max_tokens: int
    seed: int
    stop: tuple[str, ...] = ()

    def as_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
        }
        if self.top_k > 0:
            body["top_k"] = self.top_k
        if self.stop:
            body["stop"] = list(self.stop)
        return body


@dataclass(frozen=True)
class Completion:
    text: str
    num_tokens: int
    finish_reason: str


class OpenAIClient:
    """One shared HTTP connection pool to one server."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        max_retries: int = 4,
        max_connections: int = 64,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_retries = max_retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=10.0),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def complete(self, prompt: str, params: SamplingParams) -> Completion:
        body = {"model": self.model, "prompt": prompt, **params.as_body()}
        data = await self._post("/completions", body)
        choice = data["choices"][0]
        return Completion(choice.get("text") or "", _completion_tokens(data), choice.get("finish_reason") or "")

    async def chat(self, messages: list[dict[str, str]], params: SamplingParams) -> Completion:
        body = {"model": self.model, "messages": messages, **params.as_body()}
        data = await self._post("/chat/completions", body)
        choice = data["choices"][0]
        text = (choice.get("message") or {}).get("content") or ""
        return Completion(text, _completion_tokens(data), choice.get("finish_reason") or "")

    async def first_model(self) -> str:
        """The first model the server lists (for servers that serve one model)."""
        data = await self._get("/models")
        models = data.get("data") or []
        if not models:
            raise RequestError(f"{self.base_url}/models lists no model; pass --model")
        return str(models[0]["id"])

    async def _get(self, path: str) -> dict[str, Any]:
        return await self._request("GET", path, None)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._request("POST", path, body)

    async def _request(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        url = f"{self.base_url}{path}"
        for attempt in range(self.max_retries + 1):
            try:
                response = await self._http.request(method, path, json=body)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.is_success:
                    payload: dict[str, Any] = response.json()
                    return payload
                if response.status_code not in _TRANSIENT_STATUS:
                    raise RequestError(f"{method} {url} -> HTTP {response.status_code}: {response.text[:500]}")
                problem = f"HTTP {response.status_code}: {response.text[:200]}"
            if attempt == self.max_retries:
                raise RequestError(f"{method} {url} failed after {attempt + 1} attempts; last error: {problem}")
            delay = min(30.0, 0.5 * 2**attempt) * (0.5 + random.random())
            log.warning("%s %s: %s; retry %d/%d in %.1f s", method, url, problem, attempt + 1, self.max_retries, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")


def _completion_tokens(data: dict[str, Any]) -> int:
    usage = data.get("usage") or {}
    return int(usage.get("completion_tokens") or 0)
