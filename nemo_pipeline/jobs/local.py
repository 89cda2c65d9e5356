"""The local backend: runs the job graph on this machine, in dependency order, one job at a time.

Each job's exact command is written to <output_dir>/jobs/<job>.sh (rerun it by hand) and its output to
<output_dir>/logs/<job>/main.log (also echoed to the terminal).
"""

from __future__ import annotations

import enum
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from nemo_pipeline.jobs._graph import Job, JobGraph
from nemo_pipeline.jobs.supervise import ComponentSpec, SupervisorSpec, render_argv
from nemo_pipeline.process import die_with_parent, tail

__all__ = ["JobOutcome", "JobState", "LocalBackend", "LocalRun", "render_local_script"]


class JobState(str, enum.Enum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"  # a dependency failed, so it never ran


@dataclass(frozen=True)
class JobOutcome:
    name: str
    state: JobState
    seconds: float = 0.0
    exit_code: int | None = None
    log_path: Path | None = None
    reason: str = ""


@dataclass
class LocalRun:
    graph: JobGraph
    outcomes: dict[str, JobOutcome] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(o.state is JobState.COMPLETED for o in self.outcomes.values())

    def failures(self) -> list[JobOutcome]:
        return [o for o in self.outcomes.values() if o.state is not JobState.COMPLETED]


def render_local_script(job: Job, workdir: Path, log_dir: Path) -> str:
    """A bash script that reruns the job by hand: one line per component, arguments quoted once."""
    lines = ["#!/usr/bin/env bash", f"# job {job.name}", "set -euo pipefail", f"cd {shlex.quote(str(workdir))}"]
    # `exec`: the job's process is the command itself, so signals reach it and it dies with the backend.
    if len(job.components) == 1:
        lines.append("exec " + shlex.join(job.main.argv))
    else:
        spec = SupervisorSpec(
            job=job.name,
            log_dir=log_dir,
            components=tuple(ComponentSpec(c.name, tuple(c.argv)) for c in job.components),
        )
        lines.append("exec " + shlex.join(render_argv(spec)))
    return "\n".join(lines) + "\n"


def _pump(source: IO[bytes], sinks: list[IO[bytes]]) -> None:
    for chunk in iter(lambda: source.read1(65536), b""):  # type: ignore[attr-defined]
        for sink in sinks:
            sink.write(chunk)
            sink.flush()


class LocalBackend:
    """Runs every job of a graph here; a failed job cancels its dependents (afterok), afterany jobs still run."""

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo

    def write_scripts(self, graph: JobGraph) -> list[Path]:
        jobs_dir = graph.output_dir / "jobs"
        jobs_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for job in graph.jobs:
            path = jobs_dir / f"{job.name}.sh"
            path.write_text(render_local_script(job, Path.cwd(), graph.output_dir / "logs" / job.name))
            path.chmod(0o755)
            paths.append(path)
        return paths

    def submit(self, graph: JobGraph) -> LocalRun:
        self.write_scripts(graph)
        run = LocalRun(graph)
        for job in graph.jobs:
            failed = [d for d in job.after_ok if run.outcomes[d].state is not JobState.COMPLETED]
            if failed:
                run.outcomes[job.name] = JobOutcome(job.name, JobState.CANCELLED, reason=f"dependency failed: {failed}")
                self._say(f"[{job.name}] CANCELLED: dependency {', '.join(failed)} did not complete")
                continue
            run.outcomes[job.name] = self._run_job(graph, job)
        return run

    def _say(self, text: str) -> None:
        if self.echo:
            print(text, flush=True)

    def _run_job(self, graph: JobGraph, job: Job) -> JobOutcome:
        log_path = graph.output_dir / "logs" / job.name / "main.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        script = graph.output_dir / "jobs" / f"{job.name}.sh"
        self._say(f"[{job.name}] running (log: {log_path})")
        started = time.monotonic()
        with log_path.open("ab") as log:
            # The job dies with this process, even by SIGKILL; a Ctrl-C in the terminal reaches it too.
            proc = subprocess.Popen(
                ["bash", str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
            )
            assert proc.stdout is not None
            sinks: list[IO[bytes]] = [log] + ([sys.stdout.buffer] if self.echo else [])
            pump = threading.Thread(target=_pump, args=(proc.stdout, sinks), daemon=True)
            pump.start()
            try:
                code = proc.wait()
            except KeyboardInterrupt:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                raise
            pump.join(timeout=5)
        seconds = time.monotonic() - started
        if code == 0:
            self._say(f"[{job.name}] COMPLETED in {seconds:.1f} s")
            return JobOutcome(job.name, JobState.COMPLETED, seconds, code, log_path)
        self._say(f"[{job.name}] FAILED with exit code {code} (log: {log_path})\n{tail(log_path, 20)}")
        return JobOutcome(job.name, JobState.FAILED, seconds, code, log_path, reason=f"exit code {code}")
