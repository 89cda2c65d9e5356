"""The nemo-run backend: one nemo-run experiment per run, one supervised task per job, dependencies kept.

Each job becomes one `run.Script` task on nemo-run's SlurmExecutor: the task runs `jobs/<job>.nemo-run.sh`, which
runs the job's components side by side under `nemo_pipeline.jobs.supervise` (component logs and the job record in
`logs/<job>/`). `after_ok` dependencies become Slurm `afterok`, `after_any` become `afterany`; a failed job's
dependents are cancelled by Slurm (`kill_invalid_depend`). States and log files come from nemo-run, which reads
`sacct` (the cluster needs accounting).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nemo_pipeline.errors import ConfigError, JobFailedError, MissingExtraError
from nemo_pipeline.jobs._backend import ClusterSpec, register_backend
from nemo_pipeline.jobs._cluster_schema import settings_from_spec
from nemo_pipeline.jobs._graph import Job, JobGraph
from nemo_pipeline.jobs._status import JobState, JobStatus, describe_all, poll_until_finished, raise_for_failed, tail
from nemo_pipeline.jobs.nemo_run._config import NemoRunClusterConfig
from nemo_pipeline.jobs.supervise import ComponentSpec, RecordSpec, SupervisorSpec, render_argv
from nemo_pipeline.layout import REPO_ROOT, RunLayout

if TYPE_CHECKING:
    from nemo_pipeline.jobs.eval_graph import ClusterPaths

__all__ = ["NemoRunBackend", "NemoRunHandle", "import_nemo_run", "job_script", "nemo_run_backend"]

SCRIPT_SUFFIX = ".nemo-run.sh"
EXPERIMENT_TITLE = "nemo-pipeline"

# torchx's AppState names (what nemo-run reports) -> our states
_STATES = {
    "UNSUBMITTED": JobState.PENDING,
    "SUBMITTED": JobState.PENDING,
    "PENDING": JobState.PENDING,
    "RUNNING": JobState.RUNNING,
    "SUCCEEDED": JobState.COMPLETED,
    "FAILED": JobState.FAILED,
    "CANCELLED": JobState.CANCELLED,
    "UNKNOWN": JobState.UNKNOWN,
}


def import_nemo_run() -> Any:
    """The nemo_run module, or a one-line error naming the extra."""
    try:
        with warnings.catch_warnings():  # its optional executors' imports warn about their own dependencies
            warnings.simplefilter("ignore", DeprecationWarning)
            import nemo_run
    except ImportError as err:
        raise MissingExtraError(f"the nemo-run backend ({err})", "nemo-run", "nemo-run") from None
    return nemo_run


@contextlib.contextmanager
def _no_stdin() -> Iterator[None]:
    """nemo-run's LocalTunnel runs sbatch/sacct through `invoke`, which forwards this process's stdin to them (and
    fails where stdin cannot be read, e.g. under pytest): give it an empty one for the duration of the call."""
    saved = sys.stdin
    with open(os.devnull, encoding="utf-8") as empty:
        sys.stdin = empty
        try:
            yield
        finally:
            sys.stdin = saved


def record_file(output_dir: Path) -> Path:
    """`jobs/nemo-run.json`: the experiment id, its NEMORUN_HOME, each job's task id and main log."""
    return RunLayout(output_dir).backend_record("nemo-run")


def job_script(job: Job, graph: JobGraph, cluster: NemoRunClusterConfig) -> str:
    """The bash script of one task: environment, then the supervisor running every component of the job."""
    layout = graph.layout(job)
    stem = job.file_stem
    spec = SupervisorSpec(
        job=job.name,
        log_dir=layout.log_dir(stem).resolve(),
        components=tuple(ComponentSpec(c.name, c.argv, c.env) for c in job.components),
        grace_s=cluster.grace_s,
        record=RecordSpec(layout.job_record_file(stem).resolve(), job.gpus, job.benchmark, job.outputs),
    )
    lines = [
        "#!/bin/bash",
        f"# Job '{job.name}' rendered by nemo_pipeline for nemo-run; run it by hand with: bash <this file>",
        "set -euo pipefail",
        f"cd {shlex.quote(str(layout.root.resolve()))}",
        f"export PYTHONPATH={shlex.quote(str(REPO_ROOT))}${{PYTHONPATH:+:$PYTHONPATH}}",
        *[f"export {key}={shlex.quote(value)}" for key, value in sorted(cluster.env.items())],
        "exec " + shlex.join(render_argv(spec, python=cluster.python or sys.executable)),
    ]
    return "\n".join(lines) + "\n"


class NemoRunBackend:
    """`backend: nemo-run`: submit a JobGraph as a nemo-run experiment on nemo-run's Slurm executor."""

    name = "nemo-run"
    separate_components = True  # server, sandbox and client run side by side under the supervisor
    synchronous = False  # submit returns once the jobs are queued

    def __init__(self, cluster: NemoRunClusterConfig) -> None:
        self.cluster = cluster

    @property
    def remote(self) -> bool:
        return False  # a LocalTunnel: the jobs see this machine's files

    def cluster_paths(self, output_dir: Path) -> ClusterPaths:
        from nemo_pipeline.jobs.eval_graph import ClusterPaths

        return ClusterPaths(python=self.cluster.python or sys.executable, code_root=str(REPO_ROOT))

    def home(self, output_dir: Path) -> Path:
        """NEMORUN_HOME of the run's experiment."""
        if self.cluster.home:
            return Path(self.cluster.home).expanduser().resolve()
        return RunLayout(output_dir.resolve()).backend_home("nemo-run")

    def _check(self, graph: JobGraph) -> None:
        for job in graph.jobs:
            if job.after_ok and job.after_any:
                raise ConfigError(
                    f"job '{job.name}' has both afterok and afterany dependencies; a nemo-run task has one dependency "
                    "type"
                )
            limit = self.cluster.gpus_per_node
            if limit is not None and job.gpus > limit:
                raise ConfigError(
                    f"job '{job.name}' asks for {job.gpus} GPUs but the nemo-run cluster config gives gpus_per_node="
                    f"{limit}"
                )

    def dry_run(self, graph: JobGraph) -> list[Path]:
        """Write `jobs/<job>.nemo-run.sh` for every job (each runs by hand with bash); submit nothing."""
        self._check(graph)
        written = []
        for job in graph.jobs:
            layout = graph.layout(job)
            path = layout.job_script(job.file_stem, SCRIPT_SUFFIX)
            path.parent.mkdir(parents=True, exist_ok=True)
            layout.log_dir(job.file_stem).mkdir(parents=True, exist_ok=True)
            path.write_text(job_script(job, graph, self.cluster), encoding="utf-8")
            path.chmod(0o755)
            written.append(path)
        return written

    def _executor(self, run: Any, home: Path, job: Job) -> Any:
        cluster = self.cluster
        executor = run.SlurmExecutor(
            account=cluster.account,
            partition=cluster.partition,
            time=cluster.time,
            nodes=1,
            ntasks_per_node=1,
            cpus_per_task=cluster.cpus_per_task,
            mem=cluster.mem,
            gpus_per_node=job.gpus or None,
            container_image=cluster.container_image,
            container_mounts=list(cluster.container_mounts),
            srun_args=list(cluster.srun_args),
            job_name_prefix="np.",
            poll_estimated_start_time=False,  # no background squeue thread printing start estimates
            tunnel=run.LocalTunnel(job_dir=str(home / "experiments")),  # nemo-run expects $NEMORUN_HOME/experiments
            packager=run.Packager(),  # nothing to package: the code is on this machine (the default needs git)
        )
        executor.dependency_type = "afterany" if job.after_any else "afterok"
        return executor

    def submit(self, graph: JobGraph) -> NemoRunHandle:
        """Write the scripts, add one task per job to a new experiment, and launch it detached."""
        run = import_nemo_run()
        scripts = self.dry_run(graph)
        output_dir = Path(graph.output_dir).resolve()
        home = self.home(output_dir)
        (home / "experiments").mkdir(parents=True, exist_ok=True)
        run.config.set_nemorun_home(str(home))
        task_ids: dict[str, str] = {}
        with _no_stdin(), run.Experiment(
            EXPERIMENT_TITLE, base_dir=str(home), log_level="WARN", clean_mode=True, enable_goodbye_message=False,
            skip_status_at_exit=True,
        ) as exp:  # fmt: skip
            for job, script in zip(graph.jobs, scripts, strict=True):
                task = run.Script(inline=f"bash {shlex.quote(str(script))}")
                deps = [task_ids[d] for d in job.dependencies]
                task_ids[job.name] = exp.add(
                    task, executor=self._executor(run, home, job), name=job.name, dependencies=deps or None
                )
            exp.run(detach=True)
            experiment_id = str(exp._id)
            slurm_ids = {str(task.id): str(task.handle).rsplit("/", 1)[-1] for task in exp.jobs if task.handle}
        main_logs = {job.name: graph.layout(job).main_log(job.file_stem) for job in graph.jobs}
        handle = NemoRunHandle(output_dir, self.cluster, home, experiment_id, task_ids, main_logs)
        handle.slurm_ids = {name: slurm_ids[task] for name, task in task_ids.items() if task in slurm_ids}
        handle.save()
        print(f"nemo-run experiment {experiment_id}: {len(task_ids)} task(s) submitted (home {home})", flush=True)
        return handle

    def attach(self, output_dir: Path, job_ids: dict[str, str]) -> NemoRunHandle:
        """The experiment submitted earlier into `output_dir` (from `jobs/nemo-run.json`)."""
        path = record_file(output_dir)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise JobFailedError(f"{path}: cannot read the nemo-run record of this run: {err}") from None
        handle = NemoRunHandle(
            output_dir,
            self.cluster,
            Path(record["nemorun_home"]),
            str(record["experiment_id"]),
            dict(record["tasks"]),
            {name: Path(log) for name, log in record["main_logs"].items()},
        )
        handle.slurm_ids = dict(record.get("slurm_ids", {}))
        return handle


class NemoRunHandle:
    """The experiment of one submitted run: states and logs through nemo-run, a bounded wait, cancel."""

    def __init__(
        self,
        output_dir: Path,
        cluster: NemoRunClusterConfig,
        home: Path,
        experiment_id: str,
        task_ids: dict[str, str],
        main_logs: dict[str, Path],
    ) -> None:
        self.output_dir = output_dir
        self.cluster = cluster
        self.home = home
        self.experiment_id = experiment_id
        self.task_ids = task_ids
        self.main_logs = main_logs
        self.slurm_ids: dict[str, str] = {}  # job name -> Slurm job id, as nemo-run reported it at submission
        self._info: dict[str, dict[str, Any]] = {}

    @property
    def job_ids(self) -> dict[str, str]:
        """Job name -> Slurm job id (what `jobs/submitted.json` records and eval.py prints); the task id where
        nemo-run gave none. `attach` finds the experiment in `jobs/nemo-run.json`, not here."""
        return {name: self.slurm_ids.get(name, task) for name, task in self.task_ids.items()}

    def save(self) -> None:
        record = {
            "experiment_id": self.experiment_id,
            "nemorun_home": str(self.home),
            "tasks": self.task_ids,
            "slurm_ids": self.slurm_ids,
            "main_logs": {name: str(path) for name, path in self.main_logs.items()},
        }
        path = record_file(self.output_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")

    def _experiment(self) -> Any:
        run = import_nemo_run()
        run.config.set_nemorun_home(str(self.home))
        return run.Experiment.from_id(self.experiment_id)

    def status(self) -> dict[str, JobState]:
        """Every job's state as nemo-run reports it (from sacct)."""
        with _no_stdin():
            info = self._experiment().status(return_dict=True) or {}
        by_task = {task: name for name, task in self.task_ids.items()}
        states: dict[str, JobState] = {}
        for task_id, details in info.items():
            name = by_task.get(task_id)
            if name is None:
                continue
            self._info[name] = dict(details)
            raw = details.get("status")
            states[name] = _STATES.get(getattr(raw, "name", str(raw)).upper(), JobState.UNKNOWN)
        return {name: states.get(name, JobState.UNKNOWN) for name in self.task_ids}

    def wait(self, timeout_s: float) -> dict[str, JobState]:
        """Poll until every job finished; TimeoutError naming the unfinished jobs at the deadline."""
        what = f"nemo-run experiment {self.experiment_id}"
        return poll_until_finished(self.status, timeout_s, self.cluster.poll_min_s, self.cluster.poll_max_s, what)

    def cancel(self) -> None:
        """Cancel every task of the experiment that has not ended."""
        states = self.status()
        exp = self._experiment()
        with _no_stdin():
            for name, task_id in self.task_ids.items():
                if states[name] in (JobState.PENDING, JobState.RUNNING, JobState.COMPLETING, JobState.UNKNOWN):
                    exp.cancel(task_id)

    def fetch_results(self) -> None:
        """Nothing to fetch: nemo-run's executor runs the tasks on this machine's shared files."""

    def log_path(self, job_name: str) -> Path:
        """nemo-run's log of the job's task (the supervisor's output, ending with a failed component's log tail);
        the main component's own log when nemo-run wrote none."""
        details = self._info.get(job_name, {})
        local_dir = details.get("local_dir")
        slurm_id = str(details.get("job_id") or "")
        if local_dir:
            found = sorted(Path(local_dir).glob(f"log-*_{slurm_id}_*.out")) if slurm_id else []
            found = found or sorted(Path(local_dir).glob("log-*.out"))
            if found:
                return found[-1]
        return self.main_logs[job_name]

    def statuses(self, states: dict[str, JobState] | None = None) -> list[JobStatus]:
        states = self.status() if states is None else states
        result = []
        for name in self.task_ids:
            state = states.get(name, JobState.UNKNOWN)
            log = self.log_path(name)
            failed = state.finished and not state.ok and state != JobState.CANCELLED
            slurm_id = str(self._info.get(name, {}).get("job_id") or "") or None
            result.append(JobStatus(name, slurm_id, state, "", log, tail(log) if failed else ""))
        return result

    def report(self, states: dict[str, JobState] | None = None) -> str:
        return describe_all(self.statuses(states))

    def raise_for_failures(self, states: dict[str, JobState] | None = None) -> None:
        raise_for_failed(self.statuses(states), f"nemo-run experiment {self.experiment_id}: ")


@register_backend("nemo-run")
def nemo_run_backend(spec: ClusterSpec) -> NemoRunBackend:
    """The nemo-run backend from a cluster config; nemo-run is imported (or named as missing) here."""
    cluster = settings_from_spec(NemoRunClusterConfig, spec)
    import_nemo_run()
    return NemoRunBackend(cluster)
