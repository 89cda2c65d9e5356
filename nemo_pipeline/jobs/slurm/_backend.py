"""The Slurm backend: one sbatch script per job, submitted in order with dependencies; batched status polling."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from nemo_pipeline.errors import ConfigError, JobFailedError
from nemo_pipeline.jobs._backend import ClusterSpec, register_backend
from nemo_pipeline.jobs._graph import Job, JobGraph
from nemo_pipeline.jobs._status import (
    JobState,
    JobStatus,
    describe_all,
    parse_slurm_state,
    poll_until_finished,
    raise_for_failed,
    tail,
)
from nemo_pipeline.jobs.eval_graph import ClusterPaths
from nemo_pipeline.jobs.slurm._config import SlurmClusterConfig, load_cluster_config
from nemo_pipeline.jobs.slurm._render import (
    JobPaths,
    RemoteCommands,
    default_code_dir,
    default_python,
    job_paths,
    remote_output_dir,
    render_sbatch,
    sbatch_argv,
)
from nemo_pipeline.layout import REPO_ROOT, RunLayout, scheduler_log

__all__ = ["SlurmBackend", "SlurmRunHandle", "SubmitPlan"]

CALL_TIMEOUT_S = 120


@dataclass(frozen=True)
class SubmitPlan:
    """What submit did or, in a dry run, would do: the scripts written and the submission order."""

    scripts: dict[str, Path]  # job name -> local script path
    order: list[str]  # jobs to submit, in order (every job of the graph: the graph holds only what is left)
    skipped: list[str] = field(default_factory=list)  # kept for status records of older runs
    commands: list[list[str]] = field(default_factory=list)  # sbatch argv per job; "{name}" stands for an id


class _Shell:
    """Runs scheduler commands here, or on the login node over ssh."""

    def __init__(self, cluster: SlurmClusterConfig) -> None:
        self.remote = RemoteCommands(cluster) if cluster.remote else None

    def wrap(self, argv: list[str]) -> list[str]:
        return self.remote.ssh(argv) if self.remote else argv

    def run(self, argv: list[str], *, check: bool = True, local: bool = False) -> subprocess.CompletedProcess[str]:
        full = argv if local else self.wrap(argv)
        if shutil.which(full[0]) is None:
            raise ConfigError(f"'{full[0]}' is not on PATH; the Slurm backend needs the Slurm client (and ssh/rsync)")
        proc = subprocess.run(full, capture_output=True, text=True, timeout=CALL_TIMEOUT_S, check=False)
        if check and proc.returncode != 0:
            raise JobFailedError(
                f"command failed with exit code {proc.returncode}: {' '.join(full)}\n{proc.stderr.strip()}"
            )
        return proc


@register_backend("slurm")
def _slurm_backend(spec: ClusterSpec) -> SlurmBackend:
    where = f"cluster config {spec.path}" if spec.path else f"cluster '{spec.name}'"
    return SlurmBackend(load_cluster_config(spec.settings, where), cluster_file=spec.path)


class SlurmBackend:
    """Submit a JobGraph to Slurm: `SlurmBackend(cluster).submit(graph)`; `dry_run(graph)` only writes scripts."""

    name = "slurm"
    separate_components = True  # server, sandbox and client run as srun steps of one job
    synchronous = False  # submit returns once the jobs are queued

    def __init__(self, cluster: SlurmClusterConfig, *, dry_run: bool = False, cluster_file: Path | None = None) -> None:
        self.cluster = cluster
        self.dry = dry_run
        self.cluster_file = cluster_file
        self._shell = _Shell(cluster)

    @property
    def remote(self) -> bool:
        return self.cluster.remote

    def cluster_paths(self, output_dir: Path) -> ClusterPaths:
        """Where the cluster's jobs find the interpreter, the code and (remote cluster) the run directory."""
        remote = str(remote_output_dir(self.cluster, output_dir)) if self.cluster.remote else None
        return ClusterPaths(
            python=default_python(self.cluster), code_root=default_code_dir(self.cluster), remote_output_dir=remote
        )

    def _run_dir(self, graph: JobGraph, job: Job) -> PurePosixPath | Path:
        """The job's run directory as the cluster sees it (the remote run dir on a remote cluster)."""
        local = graph.layout(job).root
        if not self.cluster.remote:
            return local
        return remote_output_dir(self.cluster, graph.output_dir) / local.relative_to(graph.output_dir).as_posix()

    def _paths(self, graph: JobGraph, job: Job) -> JobPaths:
        return job_paths(self._run_dir(graph, job), job.file_stem)

    def render(self, graph: JobGraph) -> SubmitPlan:
        """Write every job's script and `jobs/submit.sh`, and return the plan (nothing is submitted)."""
        scripts: dict[str, Path] = {}
        commands: list[list[str]] = []
        for job in graph.jobs:
            paths = self._paths(graph, job)
            layout = graph.layout(job)
            local_script = layout.job_script(job.file_stem, ".sbatch")
            local_script.parent.mkdir(parents=True, exist_ok=True)
            local_script.write_text(render_sbatch(self.cluster, job, paths), encoding="utf-8")
            local_script.chmod(0o755)
            layout.log_dir(job.file_stem).mkdir(parents=True, exist_ok=True)
            scripts[job.name] = local_script
            after_ok = ["{" + d + "}" for d in job.after_ok]
            after_any = ["{" + d + "}" for d in job.after_any]
            commands.append(self._shell.wrap(sbatch_argv(paths.script, after_ok, after_any)))
        submit = RunLayout(graph.output_dir).submit_script
        submit.parent.mkdir(parents=True, exist_ok=True)
        submit.write_text(self._submit_script(graph), encoding="utf-8")
        submit.chmod(0o755)
        return SubmitPlan(scripts, [job.name for job in graph.jobs], [], commands)

    def _submit_script(self, graph: JobGraph) -> str:
        """`jobs/submit.sh`: submits the whole chain again by hand, with the same dependencies."""
        variables = {job.name: f"id_{index}" for index, job in enumerate(graph.jobs)}
        lines = [
            "#!/usr/bin/env bash",
            "# Submits every job of this run again, with the dependencies pipeline/eval.py used.",
            "set -euo pipefail",
        ]
        for job in graph.jobs:
            after_ok = ["${" + variables[d] + "}" for d in job.after_ok]
            after_any = ["${" + variables[d] + "}" for d in job.after_any]
            argv = self._shell.wrap(sbatch_argv(self._paths(graph, job).script, after_ok, after_any))
            # ${id_N} must expand, so those words are double-quoted rather than single-quoted
            words = [f'"{word}"' if "${id_" in word else shlex.quote(word) for word in argv]
            lines.append(f"# {job.name}")
            lines.append(f"{variables[job.name]}=$({' '.join(words)} | cut -d';' -f1)")
            lines.append(f'echo "{job.name}: job ${{{variables[job.name]}}}"')
        return "\n".join(lines) + "\n"

    def attach(self, output_dir: Path, job_ids: dict[str, str]) -> SlurmRunHandle:
        """A handle on jobs submitted earlier into `output_dir` (scripts found by name under its run dirs)."""
        scripts = {}
        for name in job_ids:
            script = RunLayout(output_dir).job_script(name, ".sbatch")
            for run in (d for d in output_dir.iterdir() if d.is_dir() and name.startswith(f"{d.name}-")):
                if RunLayout(run).job_script(name[len(run.name) + 1 :], ".sbatch").exists():  # a campaign's model
                    script = RunLayout(run).job_script(name[len(run.name) + 1 :], ".sbatch")
            scripts[name] = script
        plan = SubmitPlan(scripts=scripts, order=list(job_ids))
        return SlurmRunHandle(self, output_dir, plan, dict(job_ids))

    def dry_run(self, graph: JobGraph) -> list[Path]:
        plan = self.render(graph)
        return [*plan.scripts.values(), RunLayout(graph.output_dir).submit_script]

    def _push(self, graph: JobGraph) -> None:
        assert self._shell.remote is not None
        remote = self._shell.remote
        out = remote_output_dir(self.cluster, Path(graph.output_dir))
        code = default_code_dir(self.cluster)
        self._shell.run(["mkdir", "-p", code, str(out)])
        self._shell.run(remote.push_code(REPO_ROOT, code), local=True)
        self._shell.run(remote.push_dir(Path(graph.output_dir).resolve(), out), local=True)

    def submit(self, graph: JobGraph) -> SlurmRunHandle:
        """Render and submit every job of the graph, in order, each with its dependencies' job ids."""
        plan = self.render(graph)
        output_dir = Path(graph.output_dir).resolve()
        handle = SlurmRunHandle(self, output_dir, plan, {})
        if self.dry or not plan.order:
            return handle
        if self.cluster.remote:
            self._push(graph)
        for name in plan.order:
            job = graph.get(name)
            ids_ok = [handle.job_ids[d] for d in job.after_ok]
            ids_any = [handle.job_ids[d] for d in job.after_any]
            argv = sbatch_argv(self._paths(graph, job).script, ids_ok, ids_any)
            proc = self._shell.run(argv, check=False)
            if proc.returncode != 0:
                if handle.job_ids:
                    handle.cancel()
                raise JobFailedError(
                    f"sbatch failed for job '{name}' (exit code {proc.returncode}): {proc.stderr.strip()}\n"
                    f"script: {plan.scripts[name]}; jobs already submitted were cancelled: "
                    f"{sorted(handle.job_ids) or 'none'}"
                )
            handle.job_ids[name] = proc.stdout.strip().split(";")[0]
            handle.log_dirs[name] = graph.layout(job).log_dir(job.file_stem)
        return handle


class SlurmRunHandle:
    """The submitted jobs of one run: ids, batched status, a bounded wait, cancel and log paths."""

    def __init__(
        self,
        backend: SlurmBackend,
        output_dir: Path,
        plan: SubmitPlan,
        job_ids: dict[str, str],
    ) -> None:
        self.backend = backend
        self.output_dir = output_dir
        self.plan = plan
        self.job_ids = job_ids
        self.log_dirs = {
            name: RunLayout.of_job_script(script).log_dir(script.stem) for name, script in plan.scripts.items()
        }
        self._reasons: dict[str, str] = {}

    @property
    def dry_run(self) -> bool:
        return self.backend.dry

    def _query(self) -> dict[str, tuple[str, str]]:
        """One batched squeue call (finished jobs stay visible for MinJobAge); sacct for the ids it lacks."""
        ids = sorted(set(self.job_ids.values()), key=int)
        if not ids:
            return {}
        shell = self.backend._shell
        found: dict[str, tuple[str, str]] = {}
        proc = shell.run(
            ["squeue", "-h", "-t", "all", "-j", ",".join(ids), "-o", "%i|%T|%r"],
            check=False,
        )
        for line in proc.stdout.splitlines():
            parts = line.strip().split("|")
            if len(parts) == 3:
                found[parts[0]] = (parts[1], parts[2])
        missing = [i for i in ids if i not in found]
        if missing:
            proc = shell.run(
                [
                    "sacct",
                    "-n",
                    "-P",
                    "-X",
                    "-j",
                    ",".join(missing),
                    "-o",
                    "JobID,State",
                ],
                check=False,
            )
            if proc.returncode == 0:
                for line in proc.stdout.splitlines():
                    parts = line.strip().split("|")
                    if len(parts) == 2:
                        found[parts[0]] = (parts[1], "")
        return found

    def status(self) -> dict[str, JobState]:
        """Every job's state from one batched scheduler query; SKIPPED for jobs done on an earlier run."""
        states = {name: JobState.SKIPPED for name in self.plan.skipped}
        if self.dry_run:
            states.update({name: JobState.UNKNOWN for name in self.plan.order})
            return states
        found = self._query()
        for name, job_id in self.job_ids.items():
            raw_state, reason = found.get(job_id, ("UNKNOWN", ""))
            state = parse_slurm_state(raw_state)
            if state == JobState.PENDING and reason == "DependencyNeverSatisfied":
                state = JobState.CANCELLED  # a dependency failed and the cluster does not kill such jobs
            states[name] = state
            self._reasons[name] = reason
        return states

    def wait(self, timeout_s: float) -> dict[str, JobState]:
        """Poll (one `squeue` call each time) until every job finished; TimeoutError naming the unfinished jobs."""
        cluster = self.backend.cluster
        return poll_until_finished(
            self.status, timeout_s, cluster.poll_min_s, cluster.poll_max_s, f"Slurm jobs {self.job_ids}"
        )

    def cancel(self) -> None:
        """scancel every job of the run (finished ones are ignored by Slurm)."""
        if self.job_ids:
            self.backend._shell.run(["scancel", *sorted(self.job_ids.values(), key=int)], check=False)

    def log_path(self, job_name: str) -> Path:
        """The job's Slurm log (`logs/<job>/slurm-<id>.log`); component logs sit next to it."""
        if job_name not in self.job_ids:
            raise KeyError(f"job '{job_name}' was not submitted in this run; submitted: {sorted(self.job_ids)}")
        return scheduler_log(self.log_dirs[job_name], self.job_ids[job_name])

    def fetch_results(self) -> None:
        """Remote cluster: copy the whole run directory (results, metrics, summary, logs) back here."""
        remote = self.backend._shell.remote
        if remote is None:
            return
        out = remote_output_dir(self.backend.cluster, self.output_dir)
        self.backend._shell.run(remote.pull_dir(out, self.output_dir), local=True)

    def _fetch_logs(self) -> None:
        remote = self.backend._shell.remote
        if remote is None:
            return
        out = remote_output_dir(self.backend.cluster, self.output_dir)
        self.backend._shell.run(
            remote.pull_dir(PurePosixPath(RunLayout(Path(str(out))).logs_dir), RunLayout(self.output_dir).logs_dir),
            check=False,
            local=True,
        )

    def statuses(self, states: dict[str, JobState] | None = None) -> list[JobStatus]:
        """JobStatus per job, in graph order; failed jobs (not those cancelled for a failed dependency) get tails."""
        states = self.status() if states is None else states
        self._fetch_logs()
        result = []
        for name in self.plan.scripts:
            state = states.get(name, JobState.UNKNOWN)
            job_id = self.job_ids.get(name)
            log = self.log_path(name) if job_id else None
            failed = state.finished and not state.ok and state != JobState.CANCELLED
            log_tail = tail(log) if failed and log is not None else ""
            result.append(JobStatus(name, job_id, state, self._reasons.get(name, ""), log, log_tail))
        return result

    def report(self, states: dict[str, JobState] | None = None) -> str:
        """A readable summary: one block per job, log tails for failed ones."""
        return describe_all(self.statuses(states))

    def raise_for_failures(self, states: dict[str, JobState] | None = None) -> None:
        """Raise JobFailedError naming each failed job, its log and log tail; no-op when all succeeded."""
        raise_for_failed(self.statuses(states))
