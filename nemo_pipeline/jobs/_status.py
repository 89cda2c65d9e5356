"""Job states shared by the backends, the done-file check and the failure report (`explain_log`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from nemo_pipeline.errors import JobFailedError
from nemo_pipeline.process import explain_log, tail

__all__ = [
    "JobState",
    "JobStatus",
    "describe_all",
    "explain_log",
    "parse_slurm_state",
    "poll_until_finished",
    "raise_for_failed",
    "tail",
]


class JobState(str, Enum):
    """The state of one job; Slurm's names, plus SKIPPED (done on an earlier run) and UNKNOWN."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETING = "COMPLETING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    NODE_FAIL = "NODE_FAIL"
    PREEMPTED = "PREEMPTED"
    BOOT_FAIL = "BOOT_FAIL"
    DEADLINE = "DEADLINE"
    SKIPPED = "SKIPPED"
    UNKNOWN = "UNKNOWN"

    @property
    def finished(self) -> bool:
        """True once the job will not change state again."""
        return self not in _ACTIVE

    @property
    def ok(self) -> bool:
        """True for a job that ended well (or was already done)."""
        return self in (JobState.COMPLETED, JobState.SKIPPED)


_ACTIVE = frozenset({JobState.PENDING, JobState.RUNNING, JobState.COMPLETING, JobState.UNKNOWN})


def parse_slurm_state(text: str) -> JobState:
    """Map a Slurm state string ("CANCELLED by 0", "COMPLETED+", "PD") to a JobState; UNKNOWN if unrecognised."""
    word = text.strip().split(" ")[0].rstrip("+").upper()
    word = _SHORT.get(word, word)
    try:
        return JobState(word)
    except ValueError:
        return _OTHER.get(word, JobState.UNKNOWN)


_SHORT = {
    "PD": "PENDING",
    "R": "RUNNING",
    "CG": "COMPLETING",
    "CD": "COMPLETED",
    "F": "FAILED",
    "CA": "CANCELLED",
    "TO": "TIMEOUT",
    "OOM": "OUT_OF_MEMORY",
    "NF": "NODE_FAIL",
    "PR": "PREEMPTED",
    "BF": "BOOT_FAIL",
    "DL": "DEADLINE",
}
_OTHER = {
    "CONFIGURING": JobState.PENDING,
    "REQUEUED": JobState.PENDING,
    "REQUEUE_HOLD": JobState.PENDING,
    "REQUEUE_FED": JobState.PENDING,
    "RESIZING": JobState.RUNNING,
    "SIGNALING": JobState.RUNNING,
    "STAGE_OUT": JobState.COMPLETING,
    "SUSPENDED": JobState.PENDING,
    "STOPPED": JobState.PENDING,
    "SPECIAL_EXIT": JobState.FAILED,
    "REVOKED": JobState.CANCELLED,
}


@dataclass(frozen=True)
class JobStatus:
    """One job's state with what a user needs to act on a failure."""

    name: str
    job_id: str | None
    state: JobState
    reason: str = ""
    log_path: Path | None = None
    log_tail: str = ""

    def describe(self) -> str:
        """A few lines: name, id, state, reason, log path and, for failures, what the log says (`explain_log`)."""
        line = f"{self.name} (job {self.job_id or '-'}): {self.state.value}"
        if self.reason and self.reason not in ("None", "(null)"):
            line += f" [{self.reason}]"
        if self.log_tail and self.log_path is not None and self.log_path.is_file():
            # the lines that say why (often far above the end of the log), then the last lines
            explained = explain_log(self.log_path, tail_lines=len(self.log_tail.splitlines()))
            return line + "\n" + "\n".join("  " + x for x in explained.splitlines())
        if self.log_path is not None:
            line += f"\n  log: {self.log_path}"
        if self.log_tail:
            line += "\n  --- last lines of the log ---\n" + "\n".join("  " + x for x in self.log_tail.splitlines())
        return line


def describe_all(statuses: list[JobStatus]) -> str:
    """One block per job (a backend's `report`)."""
    return "\n".join(s.describe() for s in statuses)


def raise_for_failed(statuses: list[JobStatus], context: str = "") -> None:
    """JobFailedError naming every job that did not complete, with the blocks of those whose log has a tail (of all
    of them when none has); no-op when every job ended well. `context` starts the message (e.g. the experiment)."""
    bad = [s for s in statuses if not s.state.ok]
    if bad:
        names = ", ".join(f"{s.name} ({s.state.value})" for s in bad)
        shown = [s for s in bad if s.log_tail] or bad
        raise JobFailedError(f"{context}{len(bad)} job(s) did not complete: {names}\n" + describe_all(shown))


def poll_until_finished(
    status: Callable[[], dict[str, JobState]], timeout_s: float, poll_min_s: float, poll_max_s: float, what: str
) -> dict[str, JobState]:
    """Call `status` until every job finished and return its states; TimeoutError naming `what` and the unfinished
    jobs at the deadline. The interval is a tenth of the time waited so far, within [poll_min_s, poll_max_s]: a short
    run is noticed within a second or two of its end, a long one costs one query every poll_max_s."""
    started = time.monotonic()
    deadline = started + timeout_s
    while True:
        states = status()
        active = {name: state.value for name, state in states.items() if not state.finished}
        if not active:
            return states
        now = time.monotonic()
        if now >= deadline:
            raise TimeoutError(f"{what}: jobs not finished after {timeout_s:g}s: {active}")
        delay = min(max((now - started) / 10, poll_min_s), poll_max_s)
        time.sleep(max(0.0, min(delay, deadline - now)))
