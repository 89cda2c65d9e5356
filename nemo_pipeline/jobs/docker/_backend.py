"""The Docker backend: each job's components run side by side in their containers on this machine's engine.

Jobs run one after another in graph order, as the local backend runs them; a job whose `after_ok` dependency did
not complete is CANCELLED, `after_any` jobs run whatever their dependencies did. Within a job, when the main
component (the last) exits 0 the others are stopped; any component that fails first fails the job.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nemo_pipeline.errors import ConfigError, MissingExtraError
from nemo_pipeline.jobs._backend import ClusterSpec, record_submission, register_backend
from nemo_pipeline.jobs._cluster_schema import settings_from_spec
from nemo_pipeline.jobs._graph import Job, JobGraph
from nemo_pipeline.jobs._status import JobState, JobStatus, describe_all, raise_for_failed, tail
from nemo_pipeline.jobs.docker._config import DockerClusterConfig
from nemo_pipeline.jobs.docker._specs import ContainerSpec, code_dir, container_specs
from nemo_pipeline.jobs.ports import choose_ports, with_ports
from nemo_pipeline.layout import cancelled_marker, component_log, job_record_path
from nemo_pipeline.records import (
    CancelledRecord,
    JobRecord,
    UnreadableRecordError,
    read_cancelled_record,
    read_job_record,
    write_cancelled_record,
    write_job_record,
)

if TYPE_CHECKING:
    from nemo_pipeline.jobs.eval_graph import ClusterPaths

__all__ = ["DockerBackend", "DockerRunHandle", "connect", "start_container"]

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
# In the log folder of a job that never ran (its dependency failed); job.json stays for jobs that ran, as summaries
# read those.
CANCELLED_FILE = "cancelled.json"


def _docker() -> Any:
    try:
        import docker
    except ImportError:
        raise MissingExtraError("the docker backend", "docker", "docker") from None
    return docker


def connect(cluster: DockerClusterConfig) -> Any:
    """A docker client that answered a ping; ConfigError naming the engine address when none answers."""
    docker = _docker()
    url = cluster.base_url or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET
    try:
        client = docker.DockerClient(base_url=url, timeout=30)
        client.ping()
    except docker.errors.DockerException as err:
        reason = str(err).splitlines()[0][:200]
        raise ConfigError(
            f"the docker backend needs a running Docker engine, and none answered at {url} ({reason}). Start the "
            "engine (dockerd), point DOCKER_HOST or the cluster key 'base_url' at one, or use --cluster local"
        ) from None
    return client


@dataclass
class _Outcome:
    state: JobState
    log: Path | None = None
    reason: str = ""


@dataclass
class DockerRunHandle:
    """A finished run (jobs run during submit): states, report, failures."""

    output_dir: Path
    log_dirs: dict[str, Path]  # job name -> its log folder (component logs and job.json), in graph order
    outcomes: dict[str, _Outcome] = field(default_factory=dict)

    @property
    def job_ids(self) -> dict[str, str]:
        """Job name -> its log folder: what `jobs/submitted.json` records, and all `attach` needs."""
        return {name: str(path) for name, path in self.log_dirs.items()}

    def status(self) -> dict[str, JobState]:
        return {name: self.outcomes.get(name, _Outcome(JobState.PENDING)).state for name in self.log_dirs}

    def wait(self, timeout_s: float) -> dict[str, JobState]:
        return self.status()  # submit returns after every job ended

    def _statuses(self, states: dict[str, JobState] | None) -> list[JobStatus]:
        states = self.status() if states is None else states
        result = []
        for name in self.log_dirs:
            outcome = self.outcomes.get(name, _Outcome(JobState.PENDING))
            state = states.get(name, outcome.state)
            failed = state.finished and not state.ok and state != JobState.CANCELLED
            log_tail = tail(outcome.log) if failed and outcome.log else ""
            result.append(JobStatus(name, None, state, outcome.reason, outcome.log, log_tail))
        return result

    def report(self, states: dict[str, JobState] | None = None) -> str:
        return describe_all(self._statuses(states))

    def raise_for_failures(self, states: dict[str, JobState] | None = None) -> None:
        raise_for_failed(self._statuses(states))

    def cancel(self) -> None:
        """Nothing runs once submit has returned."""

    def fetch_results(self) -> None:
        """Nothing to fetch: the containers wrote into the mounted output directory."""


def _with_free_ports(specs: list[ContainerSpec]) -> list[ContainerSpec]:
    """The job's containers with their port placeholders replaced by ports free on this host now (the containers
    share the host's network)."""
    ports = choose_ports([t for s in specs for t in s.command] + [v for s in specs for v in s.environment.values()])
    if not ports:
        return specs
    return [
        dataclasses.replace(
            spec,
            command=tuple(with_ports(token, ports) for token in spec.command),
            environment={key: with_ports(value, ports) for key, value in spec.environment.items()},
        )
        for spec in specs
    ]


def _job_record(path: Path) -> JobRecord | None:
    """The job's record; None when it never ended (no job.json, or one that cannot be read as an object)."""
    try:
        return read_job_record(path)
    except UnreadableRecordError:
        return None


def _cancelled_record(path: Path) -> CancelledRecord | None:
    """Why the job was cancelled before it ran; None when it was not (no cancelled.json, or not an object)."""
    try:
        return read_cancelled_record(path)
    except UnreadableRecordError:
        return None


def _newer(path: Path, than: Path) -> bool:
    return path.stat().st_mtime_ns >= than.stat().st_mtime_ns


def start_container(client: Any, spec: ContainerSpec) -> Any:
    """Create and start the component's container. docker-py has no keyword for HostConfig's MaskedPaths and
    ReadonlyPaths, so an unmasked /proc goes through its own argument builder and the low-level API."""
    if not spec.unmask_proc:
        return client.containers.run(detach=True, **spec.kwargs())
    from docker.models.containers import _create_container_args

    kwargs = spec.kwargs()
    args = _create_container_args({**kwargs, "version": client.api._version})
    args["host_config"].update({"MaskedPaths": [], "ReadonlyPaths": []})
    created = client.api.create_container(**args)
    client.api.start(created["Id"])
    return client.containers.get(created["Id"])


def _pump_logs(container: Any, path: Path) -> threading.Thread:
    def pump() -> None:
        with path.open("ab") as log:
            for chunk in container.logs(stream=True, follow=True):
                log.write(chunk)
                log.flush()

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


class DockerBackend:
    """`backend: docker`: components in their containers through the docker SDK."""

    name = "docker"
    separate_components = True  # server, sandbox and client each in their own container
    synchronous = True  # submit runs every job and returns when they ended (eval.py then reports failures)

    def __init__(self, cluster: DockerClusterConfig, spec: ClusterSpec | None = None) -> None:
        self.cluster = cluster
        self.spec = spec  # where it came from: recorded in jobs/submitted.json for pipeline/status.py

    @property
    def remote(self) -> bool:
        return True  # a container sees only the mounted output directory and checkout: data travels in the run dir

    def attach(self, output_dir: Path, job_ids: dict[str, str]) -> DockerRunHandle:
        """The jobs of an earlier run, from the job records their log folders hold."""
        handle = DockerRunHandle(output_dir, {name: Path(log_dir) for name, log_dir in job_ids.items()})
        for name, log_dir in handle.log_dirs.items():
            record = _job_record(job_record_path(log_dir))
            cancelled = _cancelled_record(cancelled_marker(log_dir))
            if cancelled is not None and (
                record is None or _newer(cancelled_marker(log_dir), job_record_path(log_dir))
            ):
                handle.outcomes[name] = _Outcome(JobState.CANCELLED, reason=cancelled.reason)
            elif record is not None:
                handle.outcomes[name] = _Outcome(JobState(record.state), component_log(log_dir, "main"))
        return handle

    def cluster_paths(self, output_dir: Path) -> ClusterPaths:
        """How job commands name the interpreter and the checkout inside the containers."""
        from nemo_pipeline.jobs.eval_graph import ClusterPaths

        return ClusterPaths(python=self.cluster.python, code_root=code_dir(self.cluster))

    def dry_run(self, graph: JobGraph) -> list[Path]:
        """Write `jobs/<job>.docker.json` (the containers each job would start) for every job; start nothing."""
        written = []
        for job in graph.jobs:
            layout = graph.layout(job)
            path = layout.job_script(job.file_stem, ".docker.json")
            path.parent.mkdir(parents=True, exist_ok=True)
            specs = [s.to_json() for s in container_specs(self.cluster, graph, job)]
            record = {
                "job": job.name,
                "after_ok": list(job.after_ok),
                "after_any": list(job.after_any),
                "containers": specs,
            }
            path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
            written.append(path)
        return written

    def submit(self, graph: JobGraph) -> DockerRunHandle:
        """Run every job of the graph in order; returns when all ended."""
        client = connect(self.cluster)
        self.dry_run(graph)
        log_dirs = {job.name: graph.layout(job).log_dir(job.file_stem).resolve() for job in graph.jobs}
        handle = DockerRunHandle(Path(graph.output_dir), log_dirs)
        if self.spec is not None:  # status.py attaches to the jobs through it, during and after the run
            record_submission(Path(graph.output_dir), self.spec, handle)
        for job in graph.jobs:
            failed = [
                d for d in job.after_ok if d in handle.outcomes and handle.outcomes[d].state != JobState.COMPLETED
            ]
            if failed:
                handle.outcomes[job.name] = _Outcome(JobState.CANCELLED, reason=f"dependency failed: {failed}")
                write_cancelled_record(
                    cancelled_marker(log_dirs[job.name]), CancelledRecord(handle.outcomes[job.name].reason)
                )
                print(f"[{job.name}] CANCELLED: dependency {', '.join(failed)} did not complete", flush=True)
                continue
            handle.outcomes[job.name] = self._run_job(client, graph, job)
        return handle

    def _run_job(self, client: Any, graph: JobGraph, job: Job) -> _Outcome:
        specs = _with_free_ports(container_specs(self.cluster, graph, job))
        layout = graph.layout(job)
        log_dir = layout.log_dir(job.file_stem)
        log_dir.mkdir(parents=True, exist_ok=True)
        cancelled_marker(log_dir).unlink(missing_ok=True)  # an earlier run's; this one runs
        started = time.time()
        containers: dict[str, Any] = {}
        outcome = _Outcome(JobState.FAILED, layout.main_log(job.file_stem))
        print(f"[{job.name}] running {len(specs)} container(s) (logs: {log_dir})", flush=True)
        try:
            for spec in specs:
                self._remove_stale(client, spec)
                containers[spec.component] = start_container(client, spec)
                _pump_logs(containers[spec.component], Path(spec.log))
            outcome = self._follow(job, specs, containers)
        finally:
            for container in containers.values():
                self._stop(container)
        state = outcome.state.value
        write_job_record(
            job_record_path(log_dir),
            JobRecord(job.file_stem, state, time.time() - started, job.gpus, job.benchmark, started, time.time()),
        )
        print(f"[{job.name}] {state} {outcome.reason}".rstrip(), flush=True)
        return outcome

    def _follow(self, job: Job, specs: list[ContainerSpec], containers: dict[str, Any]) -> _Outcome:
        main = job.main.name
        logs = {s.component: Path(s.log) for s in specs}
        while True:
            for name, container in containers.items():
                container.reload()
                if container.status not in ("exited", "dead"):
                    continue
                code = int(container.attrs["State"]["ExitCode"])
                if name == main and code == 0:
                    return _Outcome(JobState.COMPLETED, logs[name])
                why = f"exit code {code}" if name == main else f"ended before the main one, exit code {code}"
                return _Outcome(JobState.FAILED, logs[name], f"component '{name}' {why}")
            time.sleep(self.cluster.poll_s)

    def _stop(self, container: Any) -> None:
        docker = _docker()
        try:
            container.stop(timeout=int(self.cluster.grace_s))
            container.remove(force=True)
        except docker.errors.DockerException:
            pass

    def _remove_stale(self, client: Any, spec: ContainerSpec) -> None:
        """A container of the same name left by a killed earlier run of this job."""
        docker = _docker()
        with contextlib.suppress(docker.errors.NotFound):
            client.containers.get(spec.name).remove(force=True)


@register_backend("docker")
def docker_backend(spec: ClusterSpec) -> DockerBackend:
    """The docker backend from a cluster config; the SDK is imported when the run starts."""
    return DockerBackend(settings_from_spec(DockerClusterConfig, spec), spec)
