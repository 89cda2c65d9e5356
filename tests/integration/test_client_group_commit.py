"""Group commit: records added from the event loop reach the file in a few fsynced writes, and each is reported
written only once it is durable."""

from __future__ import annotations

import asyncio

import pytest

from nemo_pipeline.jsonl import GroupCommitAppender, read_jsonl


@pytest.mark.timeout(30)
def test_records_are_committed_in_groups_and_reported_after_the_commit(tmp_path):
    path = tmp_path / "out.jsonl"
    reported: list[int] = []
    on_disk_when_reported: list[int] = []

    def committed(count: int) -> None:
        reported.append(count)
        on_disk_when_reported.append(path.read_text().count("\n"))

    async def scenario() -> GroupCommitAppender:
        out = GroupCommitAppender(path, interval_s=0.05, on_commit=committed)
        for i in range(2000):
            out.add({"id": f"item-{i}"})
            if i % 100 == 0:
                await asyncio.sleep(0.001)
        await out.aclose()
        return out

    out = asyncio.run(scenario())
    assert [r["id"] for r in read_jsonl(path)] == [f"item-{i}" for i in range(2000)]
    assert sum(reported) == out.committed == 2000
    assert out.commits == len(reported) < 100  # grouped, not one fsync per record
    # what was reported written was already in the file at that moment
    running = 0
    for count, on_disk in zip(reported, on_disk_when_reported, strict=True):
        running += count
        assert on_disk >= running


@pytest.mark.timeout(30)
def test_a_full_group_is_committed_without_waiting_for_the_interval(tmp_path):
    path = tmp_path / "out.jsonl"

    async def scenario() -> int:
        out = GroupCommitAppender(path, interval_s=30.0, max_records=10)
        for i in range(10):
            out.add({"id": i})
        for _ in range(200):  # bounded: the full group must land long before the 30 s interval
            await asyncio.sleep(0.01)
            if out.committed == 10:
                break
        committed = out.committed
        await out.aclose()
        return committed

    assert asyncio.run(scenario()) == 10
