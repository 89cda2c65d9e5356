"""Render sbatch scripts and the commands that submit them (argv lists; quoting once, at the edge)."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.jobs._graph import Component, Job
from nemo_pipeline.jobs.slurm._config import SlurmClusterConfig
from nemo_pipeline.jobs.supervise import ComponentSpec, RecordSpec, SupervisorSpec, render_argv
from nemo_pipeline.layout import REPO_ROOT, RunLayout, scheduler_log

__all__ = [
    "JobPaths",
    "RemoteCommands",
    "job_paths",
    "render_sbatch",
    "sbatch_argv",
    "srun_argv",
]


@dataclass(frozen=True)
class JobPaths:
    """Where a job's files live, as seen by the machine that runs the job."""

    output_dir: PurePosixPath  # the job's run directory
    script: PurePosixPath
    log_dir: PurePosixPath
    record: PurePosixPath  # the job record the supervisor writes at the end

    def log(self, job_id: str) -> PurePosixPath:
        return scheduler_log(self.log_dir, job_id)


def job_paths(run_dir: PurePosixPath | Path, job_name: str) -> JobPaths:
    """A job's paths in `run_dir`, named by the run-directory owner."""
    layout = RunLayout(Path(str(run_dir)))
    return JobPaths(
        PurePosixPath(run_dir),
        PurePosixPath(layout.job_script(job_name, ".sbatch")),
        PurePosixPath(layout.log_dir(job_name)),
        PurePosixPath(layout.job_record_file(job_name)),
    )


def remote_output_dir(cluster: SlurmClusterConfig, output_dir: Path) -> PurePosixPath:
    """The run directory on the cluster: <remote_dir>/<name of the local output dir>."""
    assert cluster.remote_dir is not None
    return PurePosixPath(cluster.remote_dir) / Path(output_dir).resolve().name


def default_code_dir(cluster: SlurmClusterConfig) -> str:
    """Directory holding the nemo_pipeline package, put on PYTHONPATH in jobs."""
    if cluster.code_dir:
        return cluster.code_dir
    if cluster.remote_dir is not None:
        return str(PurePosixPath(cluster.remote_dir) / "code")
    return str(REPO_ROOT)


def default_python(cluster: SlurmClusterConfig) -> str:
    if cluster.python:
        return cluster.python
    return "python3" if cluster.remote else sys.executable


def srun_argv(cluster: SlurmClusterConfig, component: Component) -> list[str]:
    """One parallel step: `srun --overlap --ntasks=1 [pyxis flags] argv...`."""
    argv = [
        "srun",
        "--overlap",
        "--ntasks=1",
        f"--job-name={component.name}",
        *cluster.srun_flags,
    ]
    image = cluster.images.get(component.name)
    if image is None and cluster.use_default_images:
        image = component.image
    if image:
        argv.append(f"--container-image={image}")
        if cluster.mounts:
            argv.append(f"--container-mounts={','.join(cluster.mounts)}")
    return [*argv, *component.argv]


def _sbatch_lines(cluster: SlurmClusterConfig, job: Job, paths: JobPaths) -> list[str]:
    if cluster.gpus_per_node is not None and job.gpus > cluster.gpus_per_node * cluster.nodes:
        raise ConfigError(
            f"job '{job.name}' asks for {job.gpus} GPUs but the cluster config gives {cluster.nodes} node(s) with "
            f"gpus_per_node={cluster.gpus_per_node}; raise nodes or lower the job's tensor parallel size"
        )
    flags = [f"--job-name={job.name}"]
    if cluster.partition:
        flags.append(f"--partition={cluster.partition}")
    if cluster.account:
        flags.append(f"--account={cluster.account}")
    if cluster.time_limit:
        flags.append(f"--time={cluster.time_limit}")
    flags.append(f"--nodes={cluster.nodes}")
    if job.gpus:
        flags.append(f"--gpus-per-node={-(-job.gpus // cluster.nodes)}")
    if cluster.cpus_per_task:
        flags.append(f"--cpus-per-task={cluster.cpus_per_task}")
    if cluster.mem:
        flags.append(f"--mem={cluster.mem}")
    log = scheduler_log(paths.log_dir, "%j")  # sbatch puts the job id in place of %j
    flags += [f"--output={log}", f"--error={log}", *cluster.sbatch_flags]
    return [f"#SBATCH {shlex.quote(flag)}" for flag in flags]


def render_sbatch(cluster: SlurmClusterConfig, job: Job, paths: JobPaths) -> str:
    """The sbatch script of one job: #SBATCH lines, env exports, and the supervisor running srun steps."""
    if not job.components:
        raise ConfigError(f"job '{job.name}' has no components")
    lines = ["#!/bin/bash", *_sbatch_lines(cluster, job, paths)]
    lines += [
        f"# Job '{job.name}' rendered by nemo_pipeline. Resubmit by hand with: sbatch {shlex.quote(str(paths.script))}",
        f"# Component logs: {paths.log_dir}/<component>.log",
        "set -euo pipefail",
        f"mkdir -p {shlex.quote(str(paths.log_dir))}",
        f"cd {shlex.quote(str(paths.output_dir))}",
        f"export PYTHONPATH={shlex.quote(default_code_dir(cluster))}${{PYTHONPATH:+:$PYTHONPATH}}",
    ]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in sorted(cluster.env.items())]
    spec = SupervisorSpec(
        job=job.name,
        log_dir=Path(str(paths.log_dir)),
        components=tuple(ComponentSpec(c.name, tuple(srun_argv(cluster, c)), c.env) for c in job.components),
        grace_s=cluster.grace_s,
        record=RecordSpec(Path(str(paths.record)), job.gpus, job.benchmark, job.outputs),
    )
    argv = render_argv(spec, python=default_python(cluster))
    # One line per component group keeps the script readable; each argument is quoted exactly once.
    groups: list[list[str]] = [[]]
    for i, token in enumerate(argv):
        if token == "--component" and i + 2 < len(argv) and argv[i + 2] == "--":
            groups.append([])
        groups[-1].append(token)
    body = " \\\n    ".join(shlex.join(group) for group in groups)
    lines.append(f"exec {body}")
    return "\n".join(lines) + "\n"


def sbatch_argv(script: PurePosixPath | Path, after_ok: list[str], after_any: list[str]) -> list[str]:
    """`sbatch --parsable [--dependency=afterok:a:b,afterany:c --kill-on-invalid-dep=yes] script`."""
    argv = ["sbatch", "--parsable"]
    parts = []
    if after_ok:
        parts.append("afterok:" + ":".join(after_ok))
    if after_any:
        parts.append("afterany:" + ":".join(after_any))
    if parts:
        argv += [f"--dependency={','.join(parts)}", "--kill-on-invalid-dep=yes"]
    return [*argv, str(script)]


@dataclass(frozen=True)
class RemoteCommands:
    """The argv lists that drive a remote cluster over ssh and rsync."""

    cluster: SlurmClusterConfig

    @property
    def _host(self) -> str:
        assert self.cluster.ssh_host is not None
        return self.cluster.ssh_host

    def ssh(self, argv: list[str]) -> list[str]:
        """Run `argv` on the login node; ssh passes one string to the remote shell, so quote it once here."""
        return ["ssh", *self.cluster.ssh_args, self._host, shlex.join(argv)]

    def _rsync(self, src: str, dst: str, excludes: tuple[str, ...] = ()) -> list[str]:
        rsh = shlex.join(["ssh", *self.cluster.ssh_args])
        return [
            "rsync",
            "-az",
            "-e",
            rsh,
            *[f"--exclude={e}" for e in excludes],
            src,
            dst,
        ]

    def push_code(self, local_code_dir: Path, remote_code_dir: str) -> list[str]:
        excludes = (".git", "__pycache__", "*.pyc", ".venv", "outputs")
        return self._rsync(f"{local_code_dir}/", f"{self._host}:{remote_code_dir}/", excludes)

    def push_dir(self, local_dir: Path, remote_dir: PurePosixPath) -> list[str]:
        return self._rsync(f"{local_dir}/", f"{self._host}:{remote_dir}/")

    def pull_dir(self, remote_dir: PurePosixPath, local_dir: Path) -> list[str]:
        return self._rsync(f"{self._host}:{remote_dir}/", f"{local_dir}/")
