"""A time-limited pool of grading worker processes.

`grade_all` sends items one at a time to worker processes that look the grader up by registry name. A call that
runs past `timeout_s` becomes `Verdict(False, <predicted or None>, "timeout")`; its worker is killed and replaced,
so one pathological answer (sympy can simplify for minutes) cannot stall the rest. A worker that dies
(segfault, out of memory) gives `Verdict(False, predicted, "grader_crashed")` and is replaced too.

Workers start from a fork server that has imported `nemo_pipeline.evaluation` (so every grader is registered and
sympy is loaded once). As with any forkserver/spawn multiprocessing, each worker imports the caller's main script as
`__mp_main__`: a script calling `grade_all` must guard its entry point with `if __name__ == "__main__":`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nemo_pipeline.evaluation.graders import GRADERS, GraderContext, Verdict

__all__ = ["grade_all"]

_PRELOAD = ["nemo_pipeline.evaluation"]


def _worker_main(conn: multiprocessing.connection.Connection, grader_name: str, context: GraderContext) -> None:
    """Loop: receive (index, item), send ("pred", index, predicted) then ("done", index, Verdict)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    import nemo_pipeline.evaluation  # noqa: F401 - registers the graders

    grader = GRADERS.get(grader_name)
    extract = getattr(grader.grade, "extract_predicted", None)
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        index, item = message
        predicted: str | None = None
        try:
            if extract is not None:
                predicted = extract(item)
                conn.send(("pred", index, predicted))
            verdict = grader(item, context)
        except Exception as exc:
            last = traceback.format_exception_only(type(exc), exc)[-1].strip()
            verdict = Verdict(False, predicted, f"grader_error: {last}")
        conn.send(("done", index, verdict))


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: multiprocessing.connection.Connection
    index: int | None = None  # item in flight
    deadline: float = 0.0
    predicted: str | None = None


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def _start(ctx: Any, grader_name: str, context: GraderContext) -> _Worker:
    parent, child = ctx.Pipe(duplex=True)
    process = ctx.Process(target=_worker_main, args=(child, grader_name, context), daemon=True)
    process.start()
    child.close()
    return _Worker(process, parent)


def _kill(worker: _Worker) -> None:
    if worker.process.is_alive() and worker.process.pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.process.pid, signal.SIGKILL)
    worker.process.join(timeout=5)
    worker.conn.close()


def grade_all(
    grader_name: str,
    items: Sequence[Mapping[str, Any]],
    context: GraderContext,
    timeout_s: float,
    workers: int,
) -> list[Verdict]:
    """Grade every item with the registered grader `grader_name`, in worker processes; verdicts in item order.

    Each call is limited to `timeout_s` seconds of wall time; past it the item gets `Verdict(False, predicted,
    "timeout")` and the worker is replaced.
    """
    GRADERS.get(grader_name)  # fail fast, listing the known graders, before any process starts
    if timeout_s <= 0:
        raise ValueError(f"grade_all: timeout_s must be > 0, got {timeout_s}; pass the per-answer limit in seconds")
    if workers < 1:
        raise ValueError(f"grade_all: workers must be >= 1, got {workers}")
    results: list[Verdict | None] = [None] * len(items)
    if not items:
        return []
    ctx = _context()
    pool = [_start(ctx, grader_name, context) for _ in range(min(workers, len(items)))]
    next_index = 0
    remaining = len(items)
    try:
        while remaining:
            for worker in pool:
                if worker.index is None and next_index < len(items):
                    worker.index, worker.predicted = next_index, None
                    worker.deadline = time.monotonic() + timeout_s
                    worker.conn.send((next_index, dict(items[next_index])))
                    next_index += 1
            busy = [w for w in pool if w.index is not None]
            wait_s = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = multiprocessing.connection.wait([w.conn for w in busy], timeout=wait_s)
            for worker in busy:
                if worker.conn in ready:
                    try:
                        while worker.index is not None and worker.conn.poll():
                            kind, index, payload = worker.conn.recv()
                            if kind == "pred":
                                worker.predicted = payload
                            elif index == worker.index:
                                results[index] = payload
                                worker.index = None
                                remaining -= 1
                    except (EOFError, OSError):
                        results[worker.index] = Verdict(False, worker.predicted, "grader_crashed")  # type: ignore[index]
                        remaining -= 1
                        pool[pool.index(worker)] = _replace(ctx, worker, grader_name, context)
                elif time.monotonic() >= worker.deadline:
                    results[worker.index] = Verdict(False, worker.predicted, "timeout")  # type: ignore[index]
                    remaining -= 1
                    pool[pool.index(worker)] = _replace(ctx, worker, grader_name, context)
    finally:
        for worker in pool:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)
        for worker in pool:
            worker.process.join(timeout=2)
            _kill(worker)
    return [v if v is not None else Verdict(False, None, "not_graded") for v in results]


def _replace(
    ctx: multiprocessing.context.BaseContext, worker: _Worker, grader_name: str, context: GraderContext
) -> _Worker:
    _kill(worker)
    return _start(ctx, grader_name, context)
