"""The SkyPilot backend: renders task YAML for every job and launches it with SkyPilot's own CLI only when asked.

Nothing here talks to a SkyPilot API server or controller: `submit` writes and validates the files and prints the
`sky jobs launch` commands; with `launch: true` in the cluster config it runs them (the user's configured cloud).
States and logs then come from SkyPilot itself (`sky jobs queue`, `sky jobs logs`).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nemo_pipeline.errors import ConfigError, JobFailedError, MissingExtraError
from nemo_pipeline.jobs._backend import ClusterSpec, register_backend
from nemo_pipeline.jobs._cluster_schema import settings_from_spec
from nemo_pipeline.jobs._graph import JobGraph
from nemo_pipeline.jobs._status import JobState
from nemo_pipeline.jobs.skypilot._config import SkyPilotClusterConfig
from nemo_pipeline.jobs.skypilot._render import RenderedRun, render_graph

if TYPE_CHECKING:
    from nemo_pipeline.jobs.eval_graph import ClusterPaths

__all__ = ["SkyPilotBackend", "SkyPilotRunHandle", "import_sky", "launch_argv", "validate_task_files"]

LAUNCH_TIMEOUT_S = 1800


def import_sky() -> Any:
    """The sky module (usage collection off), or a one-line error naming the extra."""
    os.environ.setdefault("SKYPILOT_DISABLE_USAGE_COLLECTION", "1")
    try:
        import sky
    except ImportError as err:
        raise MissingExtraError(f"the skypilot backend ({err})", "skypilot", "skypilot") from None
    return sky


def validate_task_files(paths: list[Path]) -> None:
    """Load every file with SkyPilot's own parser (offline); ConfigError naming the file on the first bad one."""
    sky = import_sky()
    from sky.utils import dag_utils

    for path in paths:
        try:
            if path.name.startswith("pipeline"):
                dag_utils.load_chain_dag_from_yaml(str(path))
            else:
                sky.Task.from_yaml(str(path))
        except Exception as err:  # SkyPilot raises ValueError and its own exception types
            raise ConfigError(f"{path}: SkyPilot rejects this task: {err}") from None


def launch_argv(rendered: RenderedRun) -> list[str]:
    """`sky jobs launch -y -d -n NAME pipeline.sky.yaml`: a managed pipeline that survives this machine."""
    return ["sky", "jobs", "launch", "-y", "-d", "-n", rendered.name, str(rendered.pipeline)]


class SkyPilotRunHandle:
    """What was rendered (and launched): files, commands; states are SkyPilot's (`sky jobs queue`)."""

    def __init__(self, output_dir: Path, pipelines: dict[str, str], runs: list[RenderedRun], launched: bool) -> None:
        self.output_dir = output_dir
        self.pipelines = pipelines  # job name -> the managed pipeline (`sky jobs` name) it belongs to
        self.runs = runs
        self.launched = launched

    @property
    def job_ids(self) -> dict[str, str]:
        return dict(self.pipelines)

    def commands(self) -> list[list[str]]:
        return [launch_argv(r) for r in self.runs]

    def status(self) -> dict[str, JobState]:
        return {name: JobState.UNKNOWN for name in self.pipelines}

    def wait(self, timeout_s: float) -> dict[str, JobState]:
        raise ConfigError(
            "the skypilot backend does not follow jobs; use `sky jobs queue` and `sky jobs logs NAME` "
            f"(pipelines: {', '.join(sorted(set(self.pipelines.values())))})"
        )

    def report(self, states: dict[str, JobState] | None = None) -> str:
        """Per pipeline: its file and launch command (when rendered here), its jobs, and where SkyPilot reports them."""
        lines = []
        files = {r.name: r for r in self.runs}
        for pipeline in dict.fromkeys(self.pipelines.values()):
            rendered = files.get(pipeline)
            if rendered is not None:
                lines.append(f"{pipeline}: {rendered.pipeline} ({len(rendered.tasks)} tasks)")
                verb = "launched with" if self.launched else "launch with"
                lines.append(f"  {verb}: {shlex.join(launch_argv(rendered))}")
            else:
                lines.append(f"{pipeline}: states and logs from SkyPilot: sky jobs queue; sky jobs logs -n {pipeline}")
            jobs = [name for name, owner in self.pipelines.items() if owner == pipeline]
            lines.append(f"  jobs: {', '.join(jobs)}")
        return "\n".join(lines)

    def raise_for_failures(self, states: dict[str, JobState] | None = None) -> None:
        """Failures of launched pipelines are SkyPilot's to report (`sky jobs queue`)."""

    def cancel(self) -> None:
        """Cancel each launched pipeline by name (SkyPilot's CLI)."""
        if self.launched:
            for name in sorted(set(self.pipelines.values())):
                subprocess.run(["sky", "jobs", "cancel", "-y", "-n", name], timeout=300, check=False)

    def fetch_results(self) -> None:
        """Nothing: the pipelines write into their bucket (`remote_root`), which its own tools copy back."""


class SkyPilotBackend:
    """`backend: skypilot`: SkyPilot task YAML per job, a pipeline per run directory."""

    name = "skypilot"
    separate_components = True  # server, sandbox and client run side by side under the supervisor on a node
    synchronous = False  # submit returns once the jobs are queued

    def __init__(self, cluster: SkyPilotClusterConfig) -> None:
        self.cluster = cluster

    @property
    def remote(self) -> bool:
        return True  # the nodes see the run directory through the bucket: data travels inside it

    def attach(self, output_dir: Path, job_ids: dict[str, str]) -> SkyPilotRunHandle:
        """The pipelines launched earlier; their states are SkyPilot's (`sky jobs queue`)."""
        return SkyPilotRunHandle(output_dir, dict(job_ids), [], launched=True)

    def cluster_paths(self, output_dir: Path) -> ClusterPaths:
        """How job commands name the interpreter, the code and the run directory on the nodes."""
        from nemo_pipeline.jobs.eval_graph import ClusterPaths

        return ClusterPaths(
            python=self.cluster.python, code_root=self.cluster.code_dir, remote_output_dir=self.cluster.remote_root
        )

    def render(self, graph: JobGraph) -> list[RenderedRun]:
        runs = render_graph(self.cluster, graph)
        validate_task_files([p for r in runs for p in (*r.tasks.values(), r.pipeline)])
        return runs

    def dry_run(self, graph: JobGraph) -> list[Path]:
        """Write and validate every task and pipeline file; launch nothing."""
        return [p for r in self.render(graph) for p in (*r.tasks.values(), r.pipeline)]

    def submit(self, graph: JobGraph) -> SkyPilotRunHandle:
        """Render and validate; print the launch commands, and run them when the config says `launch: true`."""
        runs = self.render(graph)
        pipelines = {name: r.name for r in runs for name in r.tasks}
        handle = SkyPilotRunHandle(Path(graph.output_dir), pipelines, runs, launched=self.cluster.launch)
        if not self.cluster.launch:
            print(handle.report(), flush=True)
            return handle
        if shutil.which("sky") is None:
            raise ConfigError("'sky' is not on PATH; install it with: pip install \"nemo-pipeline[skypilot]\"")
        for rendered in runs:
            argv = launch_argv(rendered)
            print(f"running: {shlex.join(argv)}", flush=True)
            proc = subprocess.run(argv, timeout=LAUNCH_TIMEOUT_S, check=False)
            if proc.returncode != 0:
                raise JobFailedError(f"{shlex.join(argv)} failed with exit code {proc.returncode}")
        return handle


@register_backend("skypilot")
def skypilot_backend(spec: ClusterSpec) -> SkyPilotBackend:
    """The skypilot backend from a cluster config; SkyPilot is imported (or named as missing) here."""
    cluster = settings_from_spec(SkyPilotClusterConfig, spec)
    import_sky()
    return SkyPilotBackend(cluster)
