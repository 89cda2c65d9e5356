"""The typed job graph shared by every backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.layout import RunLayout, model_run

__all__ = ["SANDBOX", "Component", "Job", "JobGraph"]

SANDBOX = "sandbox"  # the name of the component running the code-execution sandbox server


@dataclass(frozen=True)
class Component:
    """One process of a job: an argv, run as a process or, on a cluster, in its container image."""

    name: str  # "server", "sandbox", "main"
    argv: tuple[str, ...]
    image: str | None = None
    health_url: str | None = None  # polled by whoever depends on this component
    env: dict[str, str] = field(default_factory=dict)  # added to the job's environment for this process only


@dataclass(frozen=True)
class Job:
    """A unit of scheduling. Components run side by side; the last one is the main one.

    When the main component ends, the others are stopped; if any component fails, the job fails.
    """

    name: str
    components: tuple[Component, ...]
    after_ok: tuple[str, ...] = ()  # run only if all of these succeeded
    after_any: tuple[str, ...] = ()  # run once these ended, whatever their state
    gpus: int = 0
    benchmark: str | None = None
    run_dir: str = ""  # the job's run directory relative to the graph's output_dir ("" the same; a campaign: name)
    outputs: tuple[str, ...] = ()  # output files the job generates or grades, relative to its run directory
    items: int = 0  # items it generates or grades (its share of the work; the plan's estimate scales with it)

    @property
    def main(self) -> Component:
        return self.components[-1]

    @property
    def file_stem(self) -> str:
        """The name of the job's script and log folder inside its run directory: a campaign's job names start with
        `<run_dir>-` (unique in the graph), its files do not (each model's folder looks like a single run)."""
        prefix = f"{self.run_dir}-"
        return self.name[len(prefix) :] if self.run_dir and self.name.startswith(prefix) else self.name

    @property
    def dependencies(self) -> tuple[str, ...]:
        return self.after_ok + self.after_any


@dataclass
class JobGraph:
    """Jobs in submission order; every dependency names an earlier job."""

    output_dir: Path
    jobs: list[Job] = field(default_factory=list)

    def add(self, job: Job) -> Job:
        known = {existing.name for existing in self.jobs}
        if job.name in known:
            raise ConfigError(f"job '{job.name}' is in the graph twice")
        missing = [name for name in job.dependencies if name not in known]
        if missing:
            raise ConfigError(f"job '{job.name}' depends on jobs not yet in the graph: {missing}")
        self.jobs.append(job)
        return job

    def layout(self, job: Job) -> RunLayout:
        """The run directory `job` belongs to: its script, logs and job record live there."""
        return model_run(self.output_dir, job.run_dir)

    def get(self, name: str) -> Job:
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(name)

    def dependents(self, name: str) -> list[Job]:
        """Jobs that depend, directly or not, on `name`."""
        found: list[Job] = []
        frontier = {name}
        for job in self.jobs:
            if frontier.intersection(job.dependencies):
                found.append(job)
                frontier.add(job.name)
        return found
