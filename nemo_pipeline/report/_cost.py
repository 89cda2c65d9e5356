"""Wall time, GPU-hours and cost of one run, per benchmark, from its job records (`RunLayout.job_records()`).

A job with a `benchmark` counts wholly for it. A grouped generate job (one server, several benchmarks) has no
`benchmark` but lists the output files it generated in `tasks`; its wall time and GPU-hours are split across
benchmarks in proportion to the lines (items) of those files, or per task when a file cannot be counted.
Jobs tied to no benchmark (the summary) are `overhead`. Failed jobs count too: their GPU time was spent.

When the run has a launch plan (`plan.json`, written by eval.py), `plan` holds its estimate beside the actual usage
of the same jobs (those whose record was written since the plan was made).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nemo_pipeline.jsonl import count_records_if_any
from nemo_pipeline.layout import RunLayout
from nemo_pipeline.records import JobRecord, PlanRecord, UnreadableRecordError, read_plan_record

__all__ = ["OK_STATES", "PlanCheck", "RunCost", "Usage", "run_cost"]

OK_STATES = frozenset({"COMPLETED", "SKIPPED"})  # job states that mean "ran to the end" (JobState values)


@dataclass(frozen=True)
class Usage:
    """Job wall seconds (summed over jobs, which may overlap in time) and GPU-hours."""

    wall_s: float = 0.0
    gpu_hours: float = 0.0
    jobs: int = 0  # jobs that contributed (a grouped job counts once for each benchmark it served)

    def plus(self, wall_s: float, gpu_hours: float) -> Usage:
        return Usage(self.wall_s + wall_s, self.gpu_hours + gpu_hours, self.jobs + 1)

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.wall_s + other.wall_s, self.gpu_hours + other.gpu_hours, self.jobs + other.jobs)


@dataclass(frozen=True)
class PlanCheck:
    """The launch plan's estimate of the jobs it started, and what those jobs used (the ones that have ended)."""

    estimated: Usage  # jobs: planned; wall_s: summed job seconds
    actual: Usage  # jobs: those with a record since the plan
    guess: bool  # some rate was a default, not measured
    basis: str


@dataclass(frozen=True)
class RunCost:
    """What one run's jobs used, per benchmark, with the rate that prices it (None: no cost shown)."""

    by_benchmark: dict[str, Usage]
    overhead: Usage  # jobs serving no benchmark
    elapsed_s: float | None  # first start to last end over all jobs; None without timestamps
    cost_per_gpu_hour: float | None
    num_jobs: int
    not_ok: tuple[str, ...] = ()  # "job (STATE)" for jobs that did not complete; counted all the same
    notes: tuple[str, ...] = field(default_factory=tuple)
    plan: PlanCheck | None = None

    @property
    def total(self) -> Usage:
        total = self.overhead
        for usage in self.by_benchmark.values():
            total = total + usage
        return Usage(total.wall_s, total.gpu_hours, self.num_jobs)

    def cost(self, usage: Usage) -> float | None:
        return None if self.cost_per_gpu_hour is None else usage.gpu_hours * self.cost_per_gpu_hour


def _shares(layout: RunLayout, record: JobRecord) -> tuple[dict[str, float], str]:
    """Benchmark -> share of the job (summing to 1), and a note when the split fell back to counting tasks."""
    if record.benchmark is not None:
        return {record.benchmark: 1.0}, ""
    tasks = [(task, bench) for task in record.tasks if (bench := layout.task_benchmark(task)) is not None]
    if not tasks:
        return {}, ""
    counts = [count_records_if_any(layout.task_file(task)) for task, _ in tasks]
    note = ""
    if any(not c for c in counts):
        note = f"{record.job}: split per task (some task files are missing or empty), not per item"
        weights = [1.0] * len(tasks)
    else:
        weights = [float(c or 0) for c in counts]
    total = sum(weights)
    shares: dict[str, float] = defaultdict(float)
    for (_, bench), weight in zip(tasks, weights, strict=True):
        shares[bench] += weight / total
    return dict(shares), note


def run_cost(run_dir: Path, cost_per_gpu_hour: float | None, records: Sequence[JobRecord] | None = None) -> RunCost:
    """Usage of the run in `run_dir` from its job records (read through RunLayout unless given)."""
    layout = RunLayout(run_dir)
    records = layout.job_records() if records is None else records
    by_benchmark: dict[str, Usage] = {}
    overhead = Usage()
    notes: list[str] = []
    for record in records:
        shares, note = _shares(layout, record)
        if note:
            notes.append(note)
        if not shares:
            overhead = overhead.plus(record.wall_s, record.gpu_hours)
        for bench, share in shares.items():
            usage = by_benchmark.get(bench, Usage())
            by_benchmark[bench] = usage.plus(share * record.wall_s, share * record.gpu_hours)
    stamped = [r for r in records if r.started_at > 0 and r.ended_at >= r.started_at]
    elapsed = max(r.ended_at for r in stamped) - min(r.started_at for r in stamped) if stamped else None
    not_ok = tuple(f"{r.job} ({r.state})" for r in records if r.state not in OK_STATES)
    plan = _plan_check(layout, records)
    return RunCost(by_benchmark, overhead, elapsed, cost_per_gpu_hour, len(records), not_ok, tuple(notes), plan)


def _plan(layout: RunLayout) -> PlanRecord | None:
    """The run's plan.json; None when it has none (or one that is not a JSON object); a bad key is a DataError."""
    try:
        return read_plan_record(layout.plan_record)
    except UnreadableRecordError:
        return None


def _plan_check(layout: RunLayout, records: Sequence[JobRecord]) -> PlanCheck | None:
    plan = _plan(layout)
    if plan is None:
        return None
    actual = Usage()
    for record in records:
        if record.job in plan.jobs and record.started_at >= plan.created_at:
            actual = actual.plus(record.wall_s, record.gpu_hours)
    estimated = Usage(sum(plan.jobs.values()), plan.gpu_hours, len(plan.jobs))
    return PlanCheck(estimated, actual, plan.guess, plan.basis)
