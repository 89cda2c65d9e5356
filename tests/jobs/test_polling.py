"""The one poll loop of the backends' run handles (Slurm, nemo-run): it returns when all jobs finished, bounded."""

from __future__ import annotations

import time

import pytest

from nemo_pipeline.jobs._status import JobState, poll_until_finished


@pytest.mark.timeout(10)
def test_returns_the_states_once_every_job_finished() -> None:
    answers = iter(
        [
            {"a": JobState.PENDING, "b": JobState.RUNNING},
            {"a": JobState.COMPLETED, "b": JobState.RUNNING},
            {"a": JobState.COMPLETED, "b": JobState.FAILED},
        ]
    )
    calls = []

    def status() -> dict[str, JobState]:
        calls.append(time.monotonic())
        return next(answers)

    states = poll_until_finished(status, 5.0, 0.01, 0.05, "test jobs")
    assert states == {"a": JobState.COMPLETED, "b": JobState.FAILED} and len(calls) == 3


@pytest.mark.timeout(10)
def test_the_deadline_names_what_it_waited_for_and_the_unfinished_jobs() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError) as caught:
        poll_until_finished(lambda: {"a": JobState.COMPLETED, "b": JobState.RUNNING}, 0.3, 0.01, 0.05, "Slurm jobs x")
    assert 0.3 <= time.monotonic() - started < 5.0  # the deadline, not a poll step, ended it
    assert str(caught.value) == "Slurm jobs x: jobs not finished after 0.3s: {'b': 'RUNNING'}"
