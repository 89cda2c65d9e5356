"""The client's in-flight limit against an asyncio scripted server: adaptive growth toward the server's slots, back
off on 429 honouring Retry-After, and a pinned limit that the server never sees exceeded."""

from __future__ import annotations

import asyncio
import collections
import itertools

import pytest

from nemo_pipeline.inference.client import (
    AdaptiveSettings,
    ConcurrencyLimiter,
    OpenAIClient,
    SamplingParams,
    run_bounded,
)
from tests.fakes.queue_server import QueueServer, ServerScript

PARAMS = SamplingParams(temperature=0.0, top_p=1.0, top_k=-1, max_tokens=16, seed=0)


async def _ask_all(client: OpenAIClient, n: int) -> list[str]:
    try:
        done = await asyncio.gather(*(client.complete(f"Question: q{i}\nAnswer:", PARAMS) for i in range(n)))
    finally:
        await client.aclose()
    return [c.text for c in done]


@pytest.mark.timeout(60)
def test_adaptive_limit_rises_toward_the_slot_count():
    slots = 16
    with QueueServer(ServerScript(slots=slots, latency_s=0.05)) as server:
        limiter = ConcurrencyLimiter(None, AdaptiveSettings(initial=1))
        client = OpenAIClient(server.url, "m", limiter=limiter)
        texts = asyncio.run(_ask_all(client, 800))
        stats = server.stats
    assert texts == [f"Answer to: q{i}" for i in range(800)]
    assert stats.max_active >= slots  # it filled every slot, starting from one request in flight
    # near capacity: a queue of a few slots' worth at the server (latency within ~2x its unloaded value), no flood
    assert slots <= limiter.settled() <= 6 * slots
    assert limiter.peak() <= 10 * slots
    assert client.stats.retried == 0


@pytest.mark.timeout(60)
def test_limit_falls_on_429_and_retry_after_is_honoured():
    capacity, retry_after = 8, 0.3
    script = ServerScript(slots=capacity, latency_s=0.05, rate_limit=capacity, retry_after_s=retry_after)
    with QueueServer(script) as server:
        limiter = ConcurrencyLimiter(None, AdaptiveSettings(initial=32))  # starts 4x over the rate limit
        client = OpenAIClient(server.url, "m", limiter=limiter, max_retries=6)
        texts = asyncio.run(_ask_all(client, 600))
        arrivals = list(server.stats.arrivals)
    assert texts == [f"Answer to: q{i}" for i in range(600)]
    refused = [a for a in arrivals if a[1] == "429"]
    assert refused, "the first burst should have met the rate limit"
    assert limiter.limit <= 2 * capacity  # it backed off from 32
    assert len(refused) < 0.1 * len(arrivals)  # and stayed near the limit instead of probing it all the time
    assert client.stats.retries["http_429"] == len(refused)
    by_question = collections.defaultdict(list)
    for when, status, question in arrivals:
        by_question[question].append((when, status))
    waits = [
        later[0] - earlier[0]
        for seen in by_question.values()
        for earlier, later in itertools.pairwise(seen)
        if earlier[1] == "429"
    ]
    assert waits and min(waits) >= retry_after  # no retry came before the server's Retry-After


@pytest.mark.timeout(60)
def test_pinned_limit_is_never_exceeded():
    with QueueServer(ServerScript(latency_s=0.01)) as server:
        client = OpenAIClient(server.url, "m", max_connections=5)
        asyncio.run(_ask_all(client, 300))
        assert server.stats.max_active == 5
        assert client.limiter.peak_in_flight == 5


@pytest.mark.timeout(30)
def test_a_cancelled_waiter_gives_its_slot_back():
    async def scenario() -> tuple[int, int]:
        limiter = ConcurrencyLimiter(pinned=1)
        await limiter.acquire()
        waiting = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        limiter.on_success(0.01, 1)  # grants the slot to the waiter ...
        waiting.cancel()  # ... which is cancelled before it runs
        await asyncio.gather(waiting, return_exceptions=True)
        after_cancel = limiter.in_flight
        await asyncio.wait_for(limiter.acquire(), timeout=5)  # the slot is free again
        return after_cancel, limiter.in_flight

    assert asyncio.run(scenario()) == (0, 1)


async def _ask_bounded(client: OpenAIClient, n: int) -> list[str]:
    """The generate stage's way of feeding the client: a bounded window of items that grows with the limit."""
    texts: dict[int, str] = {}

    async def one(i: int) -> None:
        texts[i] = (await client.complete(f"Question: q{i}\nAnswer:", PARAMS)).text

    try:
        await run_bounded(list(range(n)), one, lambda: 2 * client.limiter.limit + 8, client.limiter)
    finally:
        await client.aclose()
    return [texts[i] for i in range(n)]


@pytest.mark.timeout(60)
def test_the_opening_ramp_fills_a_queueing_server_before_its_first_answer():
    latency = 3.0  # long enough that a loaded machine still sends the whole burst before the first answer comes
    with QueueServer(ServerScript(slots=1024, latency_s=latency)) as server:
        limiter = ConcurrencyLimiter(None, AdaptiveSettings(initial=8, burst=300))
        client = OpenAIClient(server.url, "m", limiter=limiter)
        texts = asyncio.run(_ask_bounded(client, 600))
        arrivals = [when for when, status, _ in server.stats.arrivals if status == "200"]
    assert texts == [f"Answer to: q{i}" for i in range(600)]
    first = min(arrivals)
    before_any_answer = sum(when < first + 0.8 * latency for when in arrivals)
    assert before_any_answer >= 300  # the whole burst went out within the first round trip
    assert before_any_answer < 400  # and no more: the ramp stops at the burst until answers say more


@pytest.mark.timeout(60)
def test_the_opening_ramp_stops_at_a_rate_limit_with_few_refusals():
    capacity = 32
    script = ServerScript(slots=capacity, latency_s=0.1, rate_limit=capacity, retry_after_s=0.3)
    with QueueServer(script) as server:
        limiter = ConcurrencyLimiter(None, AdaptiveSettings(initial=8, burst=512))
        client = OpenAIClient(server.url, "m", limiter=limiter, max_retries=6)
        texts = asyncio.run(_ask_bounded(client, 400))
        refused = server.stats.statuses["429"]
    assert texts == [f"Answer to: q{i}" for i in range(400)]
    assert 0 < refused <= capacity  # it met the limit and stopped within about one ramp step (x1.5) of it
    assert limiter.peak() <= 3 * capacity
    assert limiter.settled() <= capacity
