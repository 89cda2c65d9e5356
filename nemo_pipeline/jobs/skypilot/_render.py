"""Render SkyPilot task YAML: one task per job, and one pipeline (a chain of those tasks) per run directory."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.jobs._graph import Job, JobGraph
from nemo_pipeline.jobs.skypilot._config import ModelSource, SkyPilotClusterConfig
from nemo_pipeline.jobs.supervise import ComponentSpec, RecordSpec, SupervisorSpec, render_argv
from nemo_pipeline.layout import REPO_ROOT, RunLayout

__all__ = ["PIPELINE_FILE", "TASK_SUFFIX", "RenderedRun", "remote_run_dir", "render_graph", "render_task"]

TASK_SUFFIX = ".sky.yaml"
PIPELINE_FILE = "pipeline.sky.yaml"


@dataclass(frozen=True)
class RenderedRun:
    """The files of one run directory: a task per job, and the pipeline that chains them in graph order."""

    run_dir: str  # relative to the graph's output directory ("" for the top one)
    tasks: dict[str, Path]  # job name -> task YAML
    pipeline: Path
    name: str  # the managed job's name


def remote_run_dir(cluster: SkyPilotClusterConfig, job: Job) -> PurePosixPath:
    root = PurePosixPath(cluster.remote_root)
    return root / job.run_dir if job.run_dir else root


def _uses(job: Job, path: str) -> bool:
    return any(path in token for component in job.components for token in component.argv)


def _check_paths(graph: JobGraph, job: Job) -> None:
    """Job commands must name remote paths: a local output directory path would not exist on the nodes."""
    local = str(Path(graph.output_dir).resolve())
    for component in job.components:
        for token in component.argv:
            if local in token:
                raise ConfigError(
                    f"job '{job.name}', component '{component.name}' names the local path {local} in {token!r}; build "
                    "the graph with the skypilot backend's cluster_paths() so commands use the node's paths"
                )


def render_task(cluster: SkyPilotClusterConfig, graph: JobGraph, job: Job) -> dict[str, object]:
    """The SkyPilot task (as a YAML mapping) of one job."""
    _check_paths(graph, job)
    run_dir = remote_run_dir(cluster, job)
    resources: dict[str, object] = {}
    if cluster.infra:
        resources["infra"] = cluster.infra
    if job.gpus:
        resources["accelerators"] = f"{cluster.accelerator}:{job.gpus}"
    if cluster.cpus:
        resources["cpus"] = cluster.cpus
    if cluster.memory:
        resources["memory"] = cluster.memory
    if cluster.disk_size:
        resources["disk_size"] = cluster.disk_size
    if cluster.image_id:
        resources["image_id"] = cluster.image_id
    if cluster.use_spot:
        resources["use_spot"] = True
    models: list[ModelSource] = [m for m in cluster.model_sources() if _uses(job, m.mount_path)]
    file_mounts: dict[str, object] = {
        cluster.code_dir: str(REPO_ROOT),
        cluster.remote_root: {
            "name": cluster.bucket,
            "source": str(Path(graph.output_dir).resolve()),
            "store": cluster.store,
            "mode": "MOUNT",
        },
    }
    for model in models:
        if model.kind in ("cloud", "local"):
            file_mounts[model.mount_path] = model.source
    setup = [f"cd {shlex.quote(cluster.code_dir)}", cluster.setup]
    for model in models:
        if model.kind == "hf":
            setup.append(shlex.join([cluster.python, "-m", "pip", "install", "-q", "huggingface_hub[cli]"]))
            setup.append(shlex.join(["huggingface-cli", "download", model.source, "--local-dir", model.mount_path]))
    layout = RunLayout(Path(str(run_dir)))
    log_dir = layout.log_dir(job.file_stem)
    spec = SupervisorSpec(
        job=job.name,
        log_dir=log_dir,
        components=tuple(ComponentSpec(c.name, c.argv, c.env) for c in job.components),
        grace_s=10.0,
        record=RecordSpec(layout.job_record_file(job.file_stem), job.gpus, job.benchmark, job.outputs),
    )
    run = [f"mkdir -p {shlex.quote(str(log_dir))}", f"cd {shlex.quote(str(run_dir))}"]
    run.append("exec " + _grouped(render_argv(spec, python=cluster.python)))
    return {
        "name": job.name,
        "resources": resources,
        "num_nodes": 1,
        "file_mounts": file_mounts,
        "envs": {"PYTHONPATH": cluster.code_dir, "PYTHONUNBUFFERED": "1", **cluster.env},
        "setup": "\n".join(setup) + "\n",
        "run": "\n".join(run) + "\n",
    }


def _grouped(argv: list[str]) -> str:
    """The supervisor's command, one line per component (each argument quoted once)."""
    groups: list[list[str]] = [[]]
    for i, token in enumerate(argv):
        if token == "--component" and i + 2 < len(argv) and argv[i + 2] == "--":
            groups.append([])
        groups[-1].append(token)
    return " \\\n    ".join(shlex.join(group) for group in groups)


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (setup, run) as literal blocks, so the files read like the scripts they are."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _dump(documents: list[dict[str, object]]) -> str:
    return yaml.dump_all(documents, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=10_000)


def _pipeline_name(graph: JobGraph, run_dir: str) -> str:
    base = Path(graph.output_dir).resolve().name + (f"-{run_dir}" if run_dir else "")
    return "".join(c if c.isalnum() or c == "-" else "-" for c in base).strip("-").lower() or "nemo-pipeline"


def render_graph(cluster: SkyPilotClusterConfig, graph: JobGraph) -> list[RenderedRun]:
    """Write `<run dir>/jobs/<job>.sky.yaml` per job and `<run dir>/jobs/pipeline.sky.yaml` per run directory.

    A pipeline runs its tasks one after another in graph order (every dependency names an earlier job), so each
    job starts after its dependencies; a dependency on a job of another run directory (a campaign's comparison)
    puts that job's pipeline after the others in the launch order.
    """
    groups: dict[str, list[Job]] = {}
    for job in graph.jobs:
        groups.setdefault(job.run_dir, []).append(job)
    rendered = []
    for run_dir, jobs in groups.items():
        layout = graph.layout(jobs[0])
        layout.jobs_dir.mkdir(parents=True, exist_ok=True)
        tasks: dict[str, Path] = {}
        documents = []
        for job in jobs:
            task = render_task(cluster, graph, job)
            path = layout.job_script(job.file_stem, TASK_SUFFIX)
            path.write_text(
                f"# Job '{job.name}' for SkyPilot. Run alone with: sky launch {path.name}\n" + _dump([task]),
                encoding="utf-8",
            )
            tasks[job.name] = path
            documents.append(task)
        name = _pipeline_name(graph, run_dir)
        pipeline = layout.jobs_dir / PIPELINE_FILE
        pipeline.write_text(
            f"# Every job of this run in dependency order. Launch with: sky jobs launch -n {name} {PIPELINE_FILE}\n"
            + _dump([{"name": name}, *documents]),
            encoding="utf-8",
        )
        rendered.append(RenderedRun(run_dir, tasks, pipeline, name))
    # Pipelines whose jobs depend on another run directory's jobs launch last.
    owner = {job.name: job.run_dir for job in graph.jobs}
    crossing = {j.run_dir for j in graph.jobs if any(owner[d] != j.run_dir for d in j.dependencies)}
    return sorted(rendered, key=lambda r: r.run_dir in crossing)
