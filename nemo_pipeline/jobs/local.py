"""The local backend: runs the job graph on this machine, in dependency order, one job at a time.

Each job's exact command is written to <output_dir>/jobs/<job>.sh (rerun it by hand) and its output to
<output_dir>/logs/<job>/main.log (also echoed to the terminal).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from nemo_pipeline.errors import ConfigError, JobFailedError
from nemo_pipeline.jobs._backend import ClusterSpec, register_backend
from nemo_pipeline.jobs._graph import Job, JobGraph
from nemo_pipeline.jobs._status import JobState, JobStatus
from nemo_pipeline.jobs.eval_graph import ClusterPaths
from nemo_pipeline.jobs.supervise import ComponentSpec, SupervisorSpec, render_argv
from nemo_pipeline.layout import RunLayout
from nemo_pipeline.model_source import DEFAULT_LOCAL_CACHE
from nemo_pipeline.process import die_with_parent, explain_log, tail
from nemo_pipeline.progress import read_progress
from nemo_pipeline.records import (
    JobRecord,
    LocalJobStatus,
    LocalStatusRecord,
    read_local_status,
    write_job_record,
    write_local_status,
)

__all__ = [
    "JobOutcome",
    "JobState",
    "LocalBackend",
    "LocalRun",
    "local_status_report",
    "render_local_script",
    "render_local_submit",
]


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
    """The outcome of a local run: it has ended when `submit` returns, so waiting returns at once."""

    graph: JobGraph
    outcomes: dict[str, JobOutcome] = field(default_factory=dict)

    @property
    def output_dir(self) -> Path:
        return self.graph.output_dir

    @property
    def ok(self) -> bool:
        return all(o.state is JobState.COMPLETED for o in self.outcomes.values())

    def failures(self) -> list[JobOutcome]:
        return [o for o in self.outcomes.values() if o.state is not JobState.COMPLETED]

    def status(self) -> dict[str, JobState]:
        return {name: outcome.state for name, outcome in self.outcomes.items()}

    def wait(self, timeout_s: float) -> dict[str, JobState]:
        return self.status()

    def cancel(self) -> None:
        """Nothing to cancel: local jobs end with the run."""

    @property
    def job_ids(self) -> dict[str, str]:
        """None: the jobs ran in this process's children."""
        return {}

    def fetch_results(self) -> None:
        """Nothing to fetch: the jobs wrote here."""

    def statuses(self) -> list[JobStatus]:
        result = []
        for outcome in self.outcomes.values():
            failed = outcome.state is JobState.FAILED and outcome.log_path is not None
            log_tail = tail(outcome.log_path, 15) if failed and outcome.log_path is not None else ""
            result.append(JobStatus(outcome.name, None, outcome.state, outcome.reason, outcome.log_path, log_tail))
        return result

    def report(self, states: dict[str, JobState] | None = None) -> str:
        return "\n".join(s.describe() for s in self.statuses())

    def raise_for_failures(self, states: dict[str, JobState] | None = None) -> None:
        """JobFailedError naming every job that did not complete, with the last lines of each failed job's log."""
        bad = self.failures()
        if not bad:
            return
        names = "; ".join(f"{o.name}: {o.state.value} {o.reason} (log: {o.log_path})" for o in bad)
        tails = [
            explain_log(o.log_path, tail_lines=15) for o in bad if o.state is JobState.FAILED and o.log_path is not None
        ]
        raise JobFailedError("\n".join([f"{len(bad)} job(s) did not complete: {names}", *tails]))


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


def render_local_submit(graph: JobGraph) -> str:
    """`jobs/submit.sh`: runs every job script in order, as eval.py did; a job whose afterok dependency did not
    complete is skipped, afterany jobs run whatever happened before them."""
    lines = [
        "#!/usr/bin/env bash",
        "# Runs the jobs of this run in order, with the dependencies eval.py used.",
        "set -uo pipefail",
        "declare -A ok",
        "failed=0",
        "run() {  # run NAME SCRIPT [AFTEROK...]",
        "    local name=$1 script=$2; shift 2",
        '    for dep in "$@"; do',
        '        if [[ "${ok[$dep]:-0}" != 1 ]]; then',
        '            echo "$name: not run, $dep did not complete"; failed=1; return',
        "        fi",
        "    done",
        '    if bash "$script"; then ok[$name]=1; else echo "$name: failed"; failed=1; fi',
        "}",
    ]
    for job in graph.jobs:
        script = graph.layout(job).job_script(job.file_stem, ".sh")
        lines.append(shlex.join(["run", job.name, str(script), *job.after_ok]))
    lines.append("exit $failed")
    return "\n".join(lines) + "\n"


class _StatusFile:
    """`<output_dir>/jobs/local-status.json`: every job's state as the local run goes, for `pipeline/status.py`."""

    def __init__(self, graph: JobGraph) -> None:
        self.path = RunLayout(graph.output_dir).local_status
        self.jobs = {job.name: LocalJobStatus(JobState.PENDING.value) for job in graph.jobs}
        self._write()

    def update(self, outcome: JobOutcome) -> None:
        self.jobs[outcome.name] = LocalJobStatus(
            state=outcome.state.value,
            seconds=round(outcome.seconds, 1),
            exit_code=outcome.exit_code,
            log=str(outcome.log_path) if outcome.log_path else None,
            reason=outcome.reason,
        )
        self._write()

    def _write(self) -> None:
        write_local_status(self.path, LocalStatusRecord(os.getpid(), dict(self.jobs)))


def local_status_report(output_dir: Path) -> tuple[str, int] | None:
    """The states of a local run's jobs as text, and status.py's exit code (0 all completed, 1 a job failed or was
    cancelled, 3 still running); None when `output_dir` holds no local run."""
    path = RunLayout(output_dir).local_status
    if not path.exists():
        return None
    record = read_local_status(path)
    alive = _pid_alive(record.pid)
    states = {name: JobState(info.state) for name, info in record.jobs.items()}
    interrupted = not alive and any(not state.finished for state in states.values())
    lines = []
    for name, state in states.items():
        info = record.jobs[name]
        shown = "INTERRUPTED" if interrupted and not state.finished else state.value
        detail = f" ({info.reason})" if info.reason else ""
        log = f"  log: {info.log}" if info.log else ""
        lines.append(f"{name:<32} {shown}{detail}{log}")
    if interrupted:
        lines.append("the run was stopped before these jobs ended; rerun the same eval.py command to resume")
    if alive and any(not state.finished for state in states.values()):
        code = 3
    else:
        code = 0 if all(state.ok for state in states.values()) else 1
    return "\n".join(lines), code


def _log_path(graph: JobGraph, job: Job) -> Path:
    return graph.layout(job).main_log(job.file_stem)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pump(source: IO[bytes], sinks: list[IO[bytes]]) -> None:
    for chunk in iter(lambda: source.read1(65536), b""):  # type: ignore[attr-defined]
        for sink in sinks:
            sink.write(chunk)
            sink.flush()


class _ProgressLines(threading.Thread):
    """While a job runs, prints one line per output file it is generating: items done of total, rate, time left."""

    def __init__(self, graph: JobGraph, job: Job, say: Callable[[str], None], interval_s: float) -> None:
        super().__init__(daemon=True)
        layout = graph.layout(job)
        self.files = [layout.task_file(task) for task in job.outputs]
        self.job, self.say, self.interval_s = job.name, say, interval_s
        self.started = time.time()
        self.stopped = threading.Event()

    def run(self) -> None:
        shown: dict[Path, int] = {}
        while not self.stopped.wait(self.interval_s):
            for path in self.files:
                progress = read_progress(path)
                if progress is None or progress.updated_at < self.started or shown.get(path) == progress.done:
                    continue
                shown[path] = progress.done
                self.say(f"[{self.job}] {path.parent.name}/{path.name}: {progress.describe()}")


@register_backend("local")
def _local_backend(spec: ClusterSpec) -> LocalBackend:
    if spec.settings:
        raise ConfigError(f"the local backend takes no settings; {spec.path} has {sorted(spec.settings)}")
    return LocalBackend()


class LocalBackend:
    """Runs every job of a graph here; a failed job cancels its dependents (afterok), afterany jobs still run."""

    name = "local"
    remote = False
    synchronous = True  # submit runs every job and returns when they ended
    separate_components = False  # the stages start their own server and sandbox as child processes

    def __init__(self, echo: bool = True, progress_interval_s: float = 10.0) -> None:
        self.echo = echo
        self.progress_interval_s = progress_interval_s

    def cluster_paths(self, output_dir: Path) -> ClusterPaths:
        return ClusterPaths(model_cache=str(Path(DEFAULT_LOCAL_CACHE).expanduser()))

    def write_scripts(self, graph: JobGraph) -> list[Path]:
        paths = []
        for job in graph.jobs:
            layout = graph.layout(job)
            path = layout.job_script(job.file_stem, ".sh")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_local_script(job, Path.cwd(), layout.log_dir(job.file_stem)))
            path.chmod(0o755)
            paths.append(path)
        submit = RunLayout(graph.output_dir).submit_script
        submit.parent.mkdir(parents=True, exist_ok=True)
        submit.write_text(render_local_submit(graph))
        submit.chmod(0o755)
        return [*paths, submit]

    def dry_run(self, graph: JobGraph) -> list[Path]:
        return self.write_scripts(graph)

    def attach(self, output_dir: Path, job_ids: dict[str, str]) -> LocalRun:
        """The outcome of the local run recorded in `output_dir` (`jobs/local-status.json`)."""
        record = read_local_status(RunLayout(output_dir).local_status)
        run = LocalRun(JobGraph(output_dir))
        for name, info in record.jobs.items():
            log = Path(info.log) if info.log else None
            run.outcomes[name] = JobOutcome(name, JobState(info.state), info.seconds, info.exit_code, log, info.reason)
        return run

    def submit(self, graph: JobGraph) -> LocalRun:
        self.write_scripts(graph)
        run = LocalRun(graph)
        status = _StatusFile(graph)
        for job in graph.jobs:
            failed = [d for d in job.after_ok if run.outcomes[d].state is not JobState.COMPLETED]
            if failed:
                run.outcomes[job.name] = JobOutcome(job.name, JobState.CANCELLED, reason=f"dependency failed: {failed}")
                self._say(f"[{job.name}] CANCELLED: dependency {', '.join(failed)} did not complete")
                status.update(run.outcomes[job.name])
                continue
            status.update(JobOutcome(job.name, JobState.RUNNING, log_path=_log_path(graph, job)))
            started = time.time()
            run.outcomes[job.name] = self._run_job(graph, job)
            status.update(run.outcomes[job.name])
            outcome = run.outcomes[job.name]
            write_job_record(
                graph.layout(job).job_record_file(job.file_stem),
                JobRecord(
                    job=job.file_stem,
                    state=outcome.state.value,
                    wall_s=round(outcome.seconds, 3),
                    gpus=job.gpus,
                    benchmark=job.benchmark,
                    started_at=started,
                    ended_at=time.time(),
                    tasks=list(job.outputs),
                ),
            )
        return run

    def _say(self, text: str) -> None:
        if self.echo:
            print(text, flush=True)

    def _run_job(self, graph: JobGraph, job: Job) -> JobOutcome:
        log_path = _log_path(graph, job)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        script = graph.layout(job).job_script(job.file_stem, ".sh")
        self._say(f"[{job.name}] running (log: {log_path})")
        started = time.monotonic()
        progress = _ProgressLines(graph, job, self._say, self.progress_interval_s)
        with log_path.open("ab") as log:
            # The job dies with this process, even by SIGKILL; a Ctrl-C in the terminal reaches it too.
            proc = subprocess.Popen(
                ["bash", str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
            )
            assert proc.stdout is not None
            sinks: list[IO[bytes]] = [log] + ([sys.stdout.buffer] if self.echo else [])
            pump = threading.Thread(target=_pump, args=(proc.stdout, sinks), daemon=True)
            pump.start()
            if job.outputs:
                progress.start()
            try:
                code = proc.wait()
            except KeyboardInterrupt:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                raise
            finally:
                progress.stopped.set()
            pump.join(timeout=5)
        seconds = time.monotonic() - started
        if code == 0:
            self._say(f"[{job.name}] COMPLETED in {seconds:.1f} s")
            return JobOutcome(job.name, JobState.COMPLETED, seconds, code, log_path)
        self._say(f"[{job.name}] FAILED with exit code {code}\n{explain_log(log_path, tail_lines=20)}")
        return JobOutcome(job.name, JobState.FAILED, seconds, code, log_path, reason=f"exit code {code}")
