"""An async client for OpenAI-compatible servers: completions and chat over HTTP (`_http`), an in-flight limit that is
pinned or adapts to the server, bounded retries of transient failures (connection errors, timeouts, 408/429/5xx,
a 200 whose body is cut off or not the expected JSON) honouring `Retry-After`, and a clear error for the rest.

The HTTP layer was chosen by measurement (docs/PERFORMANCE.md, "Generation client"): httpx's pool costs
O(connections^2) per request (about 60 items/s with 64 in flight); aiohttp spends about 100 us of CPU a request, and
the plain HTTP/1.1 transport about a fifth of that, for http:// servers.
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from nemo_pipeline.errors import NemoPipelineError
from nemo_pipeline.inference._concurrency import AdaptiveSettings, ConcurrencyLimiter, run_bounded
from nemo_pipeline.inference._http import TransportError, transport_for

__all__ = [
    "AdaptiveSettings",
    "Completion",
    "ConcurrencyLimiter",
    "OpenAIClient",
    "RequestError",
    "RequestStats",
    "SamplingParams",
    "run_bounded",
]

if TYPE_CHECKING:
    from nemo_pipeline.config import InferenceConfig

log = logging.getLogger(__name__)

_TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
_OVERLOAD_STATUS = {408, 429, 503, 504}  # the server says it has too much to do: back off
_LOUD_RETRIES = 5  # retries logged at WARNING per reason; the rest at DEBUG, all counted in the stats

T = TypeVar("T")


class RequestError(NemoPipelineError):
    """The server refused a request, or kept failing after every retry."""


class _InvalidResponseError(Exception):
    """A 2xx answer whose body is not the JSON the API promises."""


# The stop strings one request may carry: the OpenAI API's limit, which vLLM's server enforces (HTTP 400 beyond
# it). A benchmark with more (HumanEval's five) sends the first ones and the client cuts the text at the others,
# which gives the same text: the server stops at the first of its own, and any other that occurs earlier is in it.
MAX_SERVER_STOPS = 4


@dataclass(frozen=True)
class SamplingParams:
    temperature: float
    top_p: float
    top_k: int
    max_tokens: int
    seed: int
    stop: tuple[str, ...] = ()

    @classmethod
    def of(cls, inference: InferenceConfig) -> SamplingParams:
        """The request settings of a resolved `InferenceConfig` (`config.resolve_inference`: every value set)."""
        assert inference.temperature is not None and inference.tokens_to_generate is not None
        return cls(
            temperature=inference.temperature,
            top_p=inference.top_p,
            top_k=inference.top_k,
            max_tokens=inference.tokens_to_generate,
            seed=inference.random_seed,
            stop=tuple(inference.stop),
        )

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
            body["stop"] = list(self.stop[:MAX_SERVER_STOPS])
        return body

    def cut_at_client_stops(self, completion: Completion) -> Completion:
        """`completion` cut where the first stop string beyond the server's MAX_SERVER_STOPS occurs: the text a
        server honouring every stop string would have returned (finish_reason "stop"; num_tokens stays what the
        server generated)."""
        cuts = [i for i in (completion.text.find(s) for s in self.stop[MAX_SERVER_STOPS:]) if i >= 0]
        if not cuts:
            return completion
        return Completion(completion.text[: min(cuts)], completion.num_tokens, "stop")


@dataclass(frozen=True)
class Completion:
    text: str
    num_tokens: int
    finish_reason: str


@dataclass
class RequestStats:
    """What the client did: requests sent (attempts), answered, retried by reason, given up."""

    requests: int = 0
    succeeded: int = 0
    failed: int = 0
    retries: collections.Counter[str] = field(default_factory=collections.Counter)

    @property
    def retried(self) -> int:
        return sum(self.retries.values())


class OpenAIClient:
    """One HTTP transport to one server; every request waits for a slot of `limiter`.

    `limiter` defaults to a pinned `max_connections` when that is given, else to an adaptive limit.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        max_retries: int = 4,
        max_connections: int | None = None,
        limiter: ConcurrencyLimiter | None = None,
        max_retry_after_s: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_retries = max_retries
        self.timeout_s = timeout_s
        self.max_retry_after_s = max_retry_after_s
        if limiter is None:
            limiter = ConcurrencyLimiter(pinned=max_connections) if max_connections else ConcurrencyLimiter(None)
        self.limiter = limiter
        self.stats = RequestStats()
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._transport = transport_for(self.base_url, self._headers, timeout_s, connect_timeout_s=10.0)

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def complete(self, prompt: str, params: SamplingParams) -> Completion:
        body = {"model": self.model, "prompt": prompt, **params.as_body()}
        return params.cut_at_client_stops(await self.request("POST", "/completions", body, _completion_from_text))

    async def chat(self, messages: list[dict[str, str]], params: SamplingParams) -> Completion:
        body = {"model": self.model, "messages": messages, **params.as_body()}
        return params.cut_at_client_stops(await self.request("POST", "/chat/completions", body, _completion_from_chat))

    async def round_trip_s(self) -> float | None:
        """Seconds one GET /models takes, about the network round trip to the server (any HTTP answer counts);
        None when it cannot be reached. Outside the limiter: nothing about load is learnt from it."""
        started = time.monotonic()
        try:
            await self._transport.request("GET", f"{self.base_url}/models", None)
        except (TransportError, asyncio.TimeoutError):
            return None
        return time.monotonic() - started

    async def prepare(self) -> None:
        """Before the first request: ask the server for its model when none was given, and time one cheap request
        so that the limiter's opening ramp steps no faster than the network answers."""
        if not self.model:
            self.model = await self.first_model()
        if self.limiter.adaptive:
            round_trip = await self.round_trip_s()
            if round_trip is not None:
                self.limiter.set_round_trip(round_trip)

    async def first_model(self) -> str:
        """The first model the server lists (for servers that serve one model)."""
        models = await self.request("GET", "/models", None, lambda data: list(data.get("data") or []), measure=False)
        if not models:
            raise RequestError(f"{self.base_url}/models lists no model; pass --model")
        return str(models[0]["id"])

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        extract: Callable[[dict[str, Any]], T],
        measure: bool = True,  # whether its latency tells the limit about the server's load (generations only)
    ) -> T:
        """What `extract` makes of the JSON answer to one request under the limiter: retried (at most
        `max_retries` times) on timeouts, lost connections, transient HTTP statuses and bodies `extract` cannot
        read; RequestError when the server refuses it or the retries run out."""
        url = f"{self.base_url}{path}"
        payload = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        for attempt in range(self.max_retries + 1):
            reason, problem, retry_after = await self._attempt(method, url, payload, extract, measure)
            if reason == "":
                return problem  # type: ignore[return-value]  # the extracted answer
            if reason == "refused":
                self.stats.failed += 1
                raise RequestError(f"{method} {url} -> {problem}")
            if attempt == self.max_retries:
                self.stats.failed += 1
                raise RequestError(f"{method} {url} failed after {attempt + 1} attempts; last error: {problem}")
            self.stats.retries[reason] += 1
            if retry_after is not None:
                delay = min(retry_after, self.max_retry_after_s) * (1.0 + 0.1 * random.random())
            else:
                delay = min(30.0, 0.5 * 2**attempt) * (0.5 + random.random())
            level = logging.WARNING if self.stats.retries[reason] <= _LOUD_RETRIES else logging.DEBUG
            log.log(level, "%s %s: %s; retry %d/%d in %.2f s", method, url, problem, attempt + 1, self.max_retries,
                    delay)  # fmt: skip
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _attempt(
        self, method: str, url: str, payload: bytes | None, extract: Callable[[dict[str, Any]], T], measure: bool
    ) -> tuple[str, Any, float | None]:
        """One request under a slot of the limiter: ("", answer, None) or (reason, problem, retry_after)."""
        await self.limiter.acquire()
        self.stats.requests += 1
        started = time.monotonic()
        overload = released = sent = False

        def on_sent() -> None:
            nonlocal sent
            sent = True
            self.limiter.on_sent()

        try:
            try:
                reply = await self._transport.request(method, url, payload, on_sent)
            except asyncio.TimeoutError:
                overload = True
                return "timeout", f"no answer within {self.timeout_s:g} s", None
            except TransportError as exc:
                return "connection", str(exc), None
            status, raw = reply.status, reply.body
            if 200 <= status < 300:
                try:
                    data = json.loads(raw)
                    if not isinstance(data, dict):
                        raise _InvalidResponseError(f"expected a JSON object, got {type(data).__name__}")
                    answer = extract(data)
                except (ValueError, KeyError, IndexError, TypeError, AttributeError, _InvalidResponseError) as exc:
                    return "invalid_response", f"HTTP {status} with an invalid body ({exc}): {raw[:200]!r}", None
                self.stats.succeeded += 1
                if measure:
                    self.limiter.on_success(time.monotonic() - started, _completion_tokens(data))
                    released = True
                return "", answer, None
            text = raw[:500].decode("utf-8", "replace")
            if status not in _TRANSIENT_STATUS:
                return "refused", f"HTTP {status}: {text}", None
            overload = status in _OVERLOAD_STATUS
            return f"http_{status}", f"HTTP {status}: {text[:200]}", _retry_after(reply.retry_after)
        finally:
            if not sent:  # never written (no connection, cancelled): no longer on its way either
                self.limiter.on_sent()
            if not released:
                if overload:
                    self.limiter.on_overload()
                else:
                    self.limiter.on_other()


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _completion_from_text(data: dict[str, Any]) -> Completion:
    choice = data["choices"][0]
    return Completion(choice.get("text") or "", _completion_tokens(data), choice.get("finish_reason") or "")


def _completion_from_chat(data: dict[str, Any]) -> Completion:
    choice = data["choices"][0]
    text = (choice.get("message") or {}).get("content") or ""
    return Completion(text, _completion_tokens(data), choice.get("finish_reason") or "")


def _completion_tokens(data: dict[str, Any]) -> int:
    usage = data.get("usage") or {}
    try:
        return int(usage.get("completion_tokens") or 0)
    except (TypeError, ValueError):
        return 0
