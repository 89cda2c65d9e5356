"""How long a job graph will take, in wall time, GPU-hours and cost, before anything starts.

Rates come from earlier runs of the same model on the same server type under the output root (the output
directory's parent folder, two levels down): their completed job records give each stage's seconds per item (the
items are the lines of the files a record lists in `tasks`) and the seconds of jobs that handle no items (metrics,
summary). Without such a run, a stage falls back to a default rate (`ServerType.guess_s_per_item` for generation)
and the estimate says it is a guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nemo_pipeline.errors import DataError
from nemo_pipeline.inference.servers import SERVER_TYPES
from nemo_pipeline.jobs._graph import Job, JobGraph
from nemo_pipeline.jsonl import count_records_if_any
from nemo_pipeline.layout import RunLayout, find_runs
from nemo_pipeline.records import read_run_record

__all__ = [
    "GUESS_EVALUATE_S_PER_ITEM",
    "GUESS_S_PER_JOB",
    "Estimate",
    "Rates",
    "estimate_jobs",
    "job_stage",
    "measured_rates",
]

GUESS_EVALUATE_S_PER_ITEM = 0.05  # grading one answer (rule-based graders; a judge is slower)
GUESS_S_PER_JOB = 5.0  # a job with no items: metrics, summary (interpreter start and file reads)
_ITEM_STAGES = ("generate", "evaluate")
_OK = "COMPLETED"


def job_stage(job_stem: str) -> str:
    """The stage of a job from its name without the campaign prefix: generate, evaluate, metrics, summarize..."""
    return job_stem.split("-", 1)[0]


@dataclass(frozen=True)
class _Measure:
    seconds: float = 0.0
    count: int = 0  # items (generate, evaluate) or jobs (the others)

    def plus(self, seconds: float, count: int) -> _Measure:
        return _Measure(self.seconds + seconds, self.count + count)


@dataclass(frozen=True)
class Rates:
    """Seconds per item of each stage with items, and per job of the others, and which were measured."""

    per_item: dict[str, float]  # stage -> seconds per item
    per_job: float  # seconds of a job without items
    source: str  # "4 earlier run(s) of M on T under ROOT" or "no earlier run of M on T under ROOT"
    measured: dict[str, int] = field(default_factory=dict)  # stage ("other" for per_job) -> items (jobs) measured

    @property
    def is_guess(self) -> bool:
        """True when any stage's rate is a default rather than a measurement."""
        return any(stage not in self.measured for stage in (*self.per_item, "other"))

    def describe(self) -> str:
        def how(stage: str, unit: str) -> str:
            return f"measured over {self.measured[stage]} {unit}" if stage in self.measured else "a guess"

        parts = [f"{stage} {rate:.3g} s/item ({how(stage, 'items')})" for stage, rate in self.per_item.items()]
        parts.append(f"other jobs {self.per_job:.3g} s each ({how('other', 'jobs')})")
        return f"{self.source}: {', '.join(parts)}"


def _matching_runs(output_root: Path, model: str, server_type: str) -> list[RunLayout]:
    """Run directories under `output_root` (up to two levels down) whose run.json names this model and server type."""
    found = []
    for run in find_runs(output_root):
        try:
            record = read_run_record(run.run_record)
        except DataError:  # unreadable, or from another version: its rates are not used
            continue
        if record.model == model and record.server_type == server_type:
            found.append(run)
    return found


def _measure(runs: Iterable[RunLayout]) -> tuple[dict[str, _Measure], int]:
    """Seconds and items (jobs) per stage over the completed job records of `runs`, and how many runs had any."""
    measures: dict[str, _Measure] = {}
    used = 0
    for run in runs:
        records = [r for r in run.job_records() if r.state == _OK]
        used += bool(records)
        for record in records:
            stage = job_stage(record.job)
            if stage in _ITEM_STAGES:
                items = sum(count_records_if_any(run.task_file(task)) or 0 for task in record.tasks)
                if items:
                    measures[stage] = measures.get(stage, _Measure()).plus(record.wall_s, items)
            else:
                measures["other"] = measures.get("other", _Measure()).plus(record.wall_s, 1)
    return measures, used


def measured_rates(output_root: Path, model: str, server_type: str) -> Rates:
    """Rates from earlier runs of `model` on `server_type` under `output_root`; guesses for the stages none measured."""
    measures, runs = _measure(_matching_runs(output_root, model, server_type))
    per_item = {"generate": SERVER_TYPES.get(server_type).guess_s_per_item, "evaluate": GUESS_EVALUATE_S_PER_ITEM}
    per_job = GUESS_S_PER_JOB
    measured: dict[str, int] = {}
    for stage, found in measures.items():
        measured[stage] = found.count
        if stage == "other":
            per_job = found.seconds / found.count
        else:
            per_item[stage] = found.seconds / found.count
    where = f"of {model} on {server_type} under {output_root}"
    source = f"{runs} earlier run(s) {where}" if runs else f"no earlier run {where}"
    return Rates(per_item, per_job, source, measured)


@dataclass(frozen=True)
class Estimate:
    """Estimated seconds of each job, with the GPU-hours, elapsed time and cost they add up to."""

    seconds: dict[str, float]  # job name -> seconds
    gpu_hours: float
    elapsed_s: float  # jobs one after another (local), or the longest chain of dependencies (a cluster)
    cost: float | None  # None: no cost_per_gpu_hour

    @property
    def job_seconds(self) -> float:
        return sum(self.seconds.values())


def _job_seconds(job: Job, stem: str, rates: Rates) -> float:
    stage = job_stage(stem)
    if stage in rates.per_item:
        return job.items * rates.per_item[stage]
    return rates.per_job


def estimate_jobs(
    graph: JobGraph,
    jobs: Sequence[Job],
    rates: dict[str, Rates],
    cost_per_gpu_hour: float | None,
    sequential: bool,
) -> Estimate:
    """Estimate `jobs` (of `graph`) with the rates of each job's run directory (`Job.run_dir`, "" for one model)."""
    seconds = {job.name: _job_seconds(job, job.file_stem, rates[job.run_dir]) for job in jobs}
    gpu_hours = sum(job.gpus * seconds[job.name] for job in jobs) / 3600.0
    if sequential:
        elapsed = sum(seconds.values())
    else:
        finish: dict[str, float] = {}
        for job in graph.jobs:  # submission order: every dependency comes first
            if job.name in seconds:
                start = max((finish.get(dep, 0.0) for dep in job.dependencies), default=0.0)
                finish[job.name] = start + seconds[job.name]
        elapsed = max(finish.values(), default=0.0)
    cost = None if cost_per_gpu_hour is None else gpu_hours * cost_per_gpu_hour
    return Estimate(seconds, gpu_hours, elapsed, cost)
