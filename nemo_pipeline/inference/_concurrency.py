"""How many requests a client keeps in flight: a pinned number, or a limit that adapts to the server.

The adaptive limit is latency-based, in the spirit of TCP Vegas and Netflix's concurrency-limits: a server with
spare capacity answers as fast as it does unloaded; one that is saturated queues requests, and its latency grows
with the queue. So the limit

- starts at `initial` and grows by half a step after each time it fills (a step: two network round trips, at
  least 10 ms, counted from when every request it admitted is sent, and ending only when the client has no
  unread answers) up to `burst`, until an overload answer or a queue in the latency (below) ends this opening
  ramp. A server that queues what it cannot batch (vLLM, SGLang, TensorRT-LLM) so gets a full batch within a
  fraction of its first round trip, and a rate-limited API refuses the excess within a step;
- then, while answers come back no slower than 1.5 x the fastest seen (normalised per
  generated token), grows by `slow_start_gain` per answer (x4 per round trip by default, and to at most 3x the
  answers of the last unloaded round trip) - slow start;
- leaves slow start at the first window whose median latency shows a queue, setting the limit to what Little's
  law says the server handles (in flight x tolerated latency / observed latency);
- then, once per window of fresh answers, grows by 25% while their median latency shows no queue (5% while it
  shows a short one) and
  shrinks toward the Little's-law estimate (at most halving) when it is over it; an overload answer (429, 503,
  timeout) sets it to `backoff` x the requests the server still holds, and growth near that point is +1 per two
  windows.

Keeping the latency at `tolerance` x the unloaded latency keeps a small queue at the server, so it never idles.
"""

from __future__ import annotations

import asyncio
import collections
import statistics
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["OPENING_BURST", "AdaptiveSettings", "ConcurrencyLimiter", "run_bounded"]

T = TypeVar("T")

_MIN_RAMP_STEP_S = 0.01  # the opening ramp grows the limit at most this often ...
_RAMP_GAIN = 1.5  # ... by this factor: a rate limit at C sees at most C/2 requests over it before it answers
_RAMP_LATE_S = 0.002  # a ramp step that fires later than this found the loop busy: answers may be unread
# The opening burst toward a server whose capacity is unknown: a GPU server's batch (vLLM's default holds 256 to
# 1,024 sequences) and the fixed number NeMo-Skills sends; a rate-limited API refuses the excess at once.
OPENING_BURST = 512


@dataclass(frozen=True)
class AdaptiveSettings:
    initial: int = 8
    burst: int = 0  # the limit ramped to before the server's first answer (0 or <= initial: no ramp)
    minimum: int = 1
    maximum: int = 1024
    tolerance: float = 2.0  # latency up to this many times the unloaded latency counts as "keeping up"
    slow_start_gain: float = 3.0  # limit increase per fast answer during slow start (x4 per round trip)
    backoff: float = 0.9  # factor applied to the accepted concurrency on an overload answer

    def __post_init__(self) -> None:
        if not 1 <= self.minimum <= self.maximum:
            raise ValueError(f"concurrency bounds must satisfy 1 <= min <= max, got {self.minimum}, {self.maximum}")


@dataclass
class _History:
    """The limit over time, sampled at most every 50 ms, for the run's report."""

    samples: list[tuple[float, float]] = field(default_factory=list)
    peak: float = 0.0

    def add(self, now: float, limit: float) -> None:
        self.peak = max(self.peak, limit)
        if not self.samples or now - self.samples[-1][0] >= 0.05:
            self.samples.append((now, limit))


class ConcurrencyLimiter:
    """A semaphore whose size is fixed (`pinned`) or adapts to the server (`adaptive`).

    Callers `await acquire()` before a request and call exactly one of `on_success`, `on_overload` or `on_other`
    after it, which releases the slot.
    """

    def __init__(self, pinned: int | None, adaptive: AdaptiveSettings | None = None) -> None:
        if pinned is not None and pinned < 1:
            raise ValueError(f"a pinned concurrency must be >= 1, got {pinned}")
        self.pinned = pinned
        self.settings = adaptive or AdaptiveSettings()
        start = pinned if pinned is not None else self.settings.initial
        self._limit = float(min(max(start, self.settings.minimum), self.settings.maximum) if pinned is None else start)
        self._in_flight = 0
        self.peak_in_flight = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._slow_start = True
        self._base = float("inf")  # fastest normalised latency in the current and previous sample window
        self._base_next = float("inf")
        self._base_count = 0
        self._recent: collections.deque[float] = collections.deque(maxlen=16)
        self._last_decrease = 0.0
        self._last_change = 0.0
        self._base_rtt = float("inf")  # fastest round trip seen, seconds
        self._answers: collections.deque[float] = collections.deque()  # answer times within the last _base_rtt
        self._overloaded_at = float("inf")  # requests the server held when it last refused (429/503/timeout)
        self._fresh: list[float] = []  # fresh answers since the last decision (after slow start)
        self._rtt = 0.0  # moving average of the round trip, seconds
        self.history = _History()
        self._ramping = pinned is None and self.settings.burst > self._limit  # the opening ramp
        self._ramp_timer: asyncio.TimerHandle | None = None
        self._ramp_due = 0.0
        self._unsent = 0  # requests admitted and not yet written to a connection
        self.ramp_step_s = _MIN_RAMP_STEP_S
        self.on_raise: Callable[[], None] | None = None  # told when the limit rises (run_bounded starts more items)

    @classmethod
    def fixed(cls, limit: int) -> ConcurrencyLimiter:
        return cls(pinned=limit)

    @property
    def limit(self) -> int:
        return max(1, int(self._limit))

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def adaptive(self) -> bool:
        return self.pinned is None

    def set_round_trip(self, seconds: float) -> None:
        """The network round trip to the server (a cheap request's time): the opening ramp doubles the limit every
        two of them, so a refusal of the excess arrives before the limit has grown by more than 1.4x."""
        self.ramp_step_s = max(_MIN_RAMP_STEP_S, 2.0 * seconds)

    async def acquire(self) -> None:
        if self._in_flight < self.limit and not self._waiters:
            self._take()
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # granted, then cancelled before it could run
                self._unsent -= 1
                self._release()
            raise

    def _ramp_up(self) -> None:
        """One step of the opening ramp, a step after the limit filled and its requests were sent: the limit x1.5,
        up to `burst`. A step that fires late found the event loop busy, perhaps with answers not yet read: it
        waits for a quiet moment."""
        self._ramp_timer = None
        if not self._ramping:
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self._ramp_due > _RAMP_LATE_S:
            self._ramp_due = loop.time() + _RAMP_LATE_S
            self._ramp_timer = loop.call_at(self._ramp_due, self._ramp_up)
            return
        self._set(min(_RAMP_GAIN * self._limit, float(self.settings.burst)), time.monotonic())
        if self._limit >= min(self.settings.burst, self.settings.maximum):
            self._end_ramp()

    def _schedule_ramp(self, loop: asyncio.AbstractEventLoop) -> None:
        self._ramp_due = loop.time() + self.ramp_step_s
        self._ramp_timer = loop.call_at(self._ramp_due, self._ramp_up)

    def _end_ramp(self) -> None:
        self._ramping = False
        if self._ramp_timer is not None:
            self._ramp_timer.cancel()
            self._ramp_timer = None

    def _take(self) -> None:
        self._in_flight += 1
        self._unsent += 1
        self.peak_in_flight = max(self.peak_in_flight, self._in_flight)

    def on_sent(self) -> None:
        """A request admitted by `acquire` is written to its connection (or will never be). The opening ramp's
        next step counts from when the limit is full and every admitted request is on its way: only then can the
        server's refusals be on their way back."""
        self._unsent -= 1
        if self._ramping and self._ramp_timer is None and self._unsent == 0 and self._in_flight >= self.limit:
            self._schedule_ramp(asyncio.get_running_loop())

    def _release(self) -> None:
        self._in_flight -= 1
        self._release_waiters()

    def on_success(self, latency_s: float, tokens: int) -> None:
        """A request answered; `latency_s` is its round trip, `tokens` how many tokens it generated (0: unknown)."""
        if self.pinned is None:
            self._rtt = latency_s if self._rtt == 0.0 else 0.9 * self._rtt + 0.1 * latency_s
            self._adapt(latency_s / tokens if tokens > 0 else latency_s, latency_s)
        self._release()

    def on_overload(self) -> None:
        """The server said it is overloaded (429, 503) or did not answer in time: back off to `backoff` x the
        requests it still holds. Each refusal of a burst lowers that count, so a burst cannot cascade."""
        if self.pinned is None:
            self._end_ramp()
            accepted = float(self._in_flight - 1)  # the server took the others, at most
            if accepted * self.settings.backoff < self._limit:
                self._overloaded_at = accepted
                self._slow_start = False
                self._decrease(accepted * self.settings.backoff, time.monotonic())
        self._release()

    def on_other(self) -> None:
        """The request failed for a reason that says nothing about load (connection refused, bad answer)."""
        self._release()

    def _set(self, value: float, now: float) -> None:
        before = self.limit
        self._limit = min(max(value, float(self.settings.minimum)), float(self.settings.maximum))
        self.history.add(now, self._limit)
        self._release_waiters()
        if self.limit > before and self.on_raise is not None:
            self.on_raise()

    def _decrease(self, value: float, now: float) -> None:
        self._last_decrease = self._last_change = now
        self._fresh.clear()
        self._set(min(value, self._limit), now)

    def _release_waiters(self) -> None:
        while self._waiters and self._in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._take()
                waiter.set_result(None)

    def _served_lately(self, now: float, latency_s: float) -> int:
        """Answers in the last unloaded round trip: about how many requests the server works on at once."""
        self._base_rtt = min(self._base_rtt, latency_s)
        self._answers.append(now)
        while self._answers[0] < now - 0.8 * self._base_rtt:  # less than a round trip: one round of answers
            self._answers.popleft()
        return len(self._answers)

    def _adapt(self, sample: float, latency_s: float) -> None:
        settings = self.settings
        self._base_count += 1
        self._base_next = min(self._base_next, sample)
        if self._base_count >= max(500, 8 * int(self._limit)):  # forget old minima slowly: the server may change
            self._base, self._base_next, self._base_count = self._base_next, float("inf"), 0
        self._base = min(self._base, sample)
        self._recent.append(sample)
        tolerated = self._base * settings.tolerance
        now = time.monotonic()
        binding = self._in_flight >= 0.5 * self._limit  # grow only a limit that is actually in use
        served = self._served_lately(now, latency_s)
        # Never shrink below `tolerance` x what the server answers per unloaded round trip: latency above that is
        # not a queue at the server (a client short of CPU delays its own answers; fewer requests would not help)
        floor = settings.tolerance * served / 0.8
        if self._slow_start:
            if len(self._recent) >= 8 and statistics.median(self._recent) > tolerated:
                self._slow_start = False
                self._end_ramp()
                # Little's law: the server handles about in_flight x unloaded / observed latency at once
                estimate = self._in_flight * tolerated / statistics.median(self._recent)
                self._decrease(max(self._limit / 4, estimate, min(floor, self._limit)), now)
            elif sample <= 1.5 * self._base and binding:
                # A slot server answers its first slots fast even with a queue behind them: grow to at most 3x the
                # answers of the last round trip (what it serves at once), not on every fast answer.
                cap = 3.0 * served
                if self._limit < cap:
                    self._set(min(cap, self._limit + settings.slow_start_gain), now)
            return
        # One decision per window of fresh answers: those to requests sent after the last change of the limit
        # (answers to requests sent before it still show the old queue, and would push the limit down again)
        if now - latency_s < self._last_change:
            return
        self._fresh.append(sample)
        if len(self._fresh) < min(32, max(4, int(self._limit))):  # about one round trip of answers
            return
        median = statistics.median(self._fresh)
        self._fresh.clear()
        if median > tolerated:
            target = max(self._limit * max(0.5, tolerated / median), floor)
            if target < self._limit:
                self._decrease(target, now)
        elif median <= 1.5 * self._base and binding:  # headroom: +25% with no queue at all, else +5%
            if self._limit >= 0.8 * self._overloaded_at:  # near where the server last refused: probe gently
                self._set(self._limit + 0.5, now)
            else:
                step = 0.25 if median <= 1.2 * self._base else 0.05
                self._set(self._limit + max(1.0, step * self._limit), now)
            self._last_change = now

    def settled(self) -> int:
        """The limit the run settled at: the median of the sampled limit over the second half of the run."""
        samples = self.history.samples
        if not samples:
            return self.limit
        half = samples[len(samples) // 2 :]
        return round(statistics.median(value for _, value in half))

    def peak(self) -> int:
        return max(self.limit, round(self.history.peak))


async def run_bounded(
    items: Sequence[T],
    worker: Callable[[T], Coroutine[Any, Any, None]],
    width: Callable[[], int],
    limiter: ConcurrencyLimiter | None = None,
) -> None:
    """Run `worker(item)` for every item, in order, with at most `width()` running (read again as each ends, and
    whenever `limiter`'s limit rises).

    Starting a task per item up front would do every item's set-up (prompt rendering, request encoding) in one
    burst before the first request goes out; this keeps just enough items ready to fill the in-flight limit.
    The first exception a worker raises cancels the rest and is raised here.
    """
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[None] = loop.create_future()
    running: set[asyncio.Task[None]] = set()
    position = 0

    def spawn() -> None:
        nonlocal position
        while position < len(items) and len(running) < max(1, width()):
            task = loop.create_task(worker(items[position]))
            position += 1
            running.add(task)
            task.add_done_callback(ended)
        if not running and not finished.done():
            finished.set_result(None)

    def ended(task: asyncio.Task[None]) -> None:
        running.discard(task)
        if finished.done() or task.cancelled():
            return
        error = task.exception()
        if error is not None:
            finished.set_exception(error)
        else:
            spawn()

    def raised() -> None:
        if not finished.done():
            spawn()

    if limiter is not None:
        limiter.on_raise = raised
    spawn()
    try:
        await finished
    finally:
        if limiter is not None:
            limiter.on_raise = None
        for task in list(running):
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
