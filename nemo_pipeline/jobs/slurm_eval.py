"""`pipeline/eval.py --cluster slurm|PATH`: submit the evaluation graph as dependent Slurm jobs, and read back the
states of a submitted run (`pipeline/status.py OUTPUT_DIR`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from nemo_pipeline.config import CONF_DIR
from nemo_pipeline.errors import ConfigError, JobFailedError
from nemo_pipeline.jobs._graph import JobGraph
from nemo_pipeline.jobs.eval_graph import ClusterPaths
from nemo_pipeline.jobs.slurm import SlurmBackend, SlurmClusterConfig, SlurmRunHandle, SubmitPlan, load_cluster_config
from nemo_pipeline.jobs.slurm._render import default_code_dir, default_python, remote_output_dir

if TYPE_CHECKING:
    from nemo_pipeline.pipeline_eval import EvalRequest

__all__ = ["SUBMITTED_FILE", "cluster_paths", "load_run", "resolve_cluster", "submit_to_slurm"]

SUBMITTED_FILE = "jobs/submitted.json"
WAIT_TIMEOUT_S = 24 * 3600.0


def resolve_cluster(name: str) -> tuple[Path, SlurmClusterConfig]:
    """`slurm` -> conf/cluster/slurm.yaml; a name -> conf/cluster/<name>.yaml; else a path to a yaml file."""
    candidate = Path(name)
    path = candidate if candidate.suffix in (".yaml", ".yml") else CONF_DIR / "cluster" / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in (CONF_DIR / "cluster").glob("*.yaml"))
        raise ConfigError(f"--cluster {name}: no cluster config {path}. Known: local, {', '.join(known)}")
    return path, load_cluster_config(path)


def cluster_paths(cluster: SlurmClusterConfig, output_dir: Path) -> ClusterPaths:
    """Where the cluster's jobs find the interpreter, the code and the run directory (`python`, `code_dir` and, for
    a remote cluster, `remote_dir` of the cluster config)."""
    remote = str(remote_output_dir(cluster, output_dir)) if cluster.remote else None
    return ClusterPaths(python=default_python(cluster), code_root=default_code_dir(cluster), remote_output_dir=remote)


def submit_to_slurm(request: EvalRequest, graph: JobGraph) -> int:
    """Submit (or, with --dry_run, only write and print) the jobs; with --wait, wait and report their states."""
    cluster_path, cluster = resolve_cluster(request.cluster)
    backend = SlurmBackend(cluster, dry_run=request.dry_run)
    handle = backend.submit(graph)
    if request.dry_run:
        for name in handle.plan.order:
            print(f"# {handle.plan.scripts[name]}\n{handle.plan.scripts[name].read_text()}")
        print("submit order: " + " -> ".join(handle.plan.order))
        return 0
    record = {"cluster": str(cluster_path), "job_ids": handle.job_ids, "skipped": handle.plan.skipped}
    submitted = graph.output_dir / SUBMITTED_FILE
    submitted.parent.mkdir(parents=True, exist_ok=True)
    submitted.write_text(json.dumps(record, indent=2) + "\n")
    for name in handle.plan.order:
        print(f"submitted {name}: job {handle.job_ids[name]}")
    for name in handle.plan.skipped:
        print(f"skipped {name}: its outputs are complete")
    if not request.wait:
        print(f"status: python pipeline/status.py {graph.output_dir}")
        return 0
    states = handle.wait(WAIT_TIMEOUT_S)
    if cluster.remote:
        handle.fetch_results()
    print(handle.report(states))
    handle.raise_for_failures(states)
    print(f"done: results in {graph.output_dir}")
    return 0


def load_run(output_dir: Path) -> SlurmRunHandle:
    """A handle on the jobs a previous `eval.py --cluster slurm` submitted into `output_dir`."""
    path = output_dir / SUBMITTED_FILE
    if not path.exists():
        raise JobFailedError(f"{path} not found: no Slurm run was submitted into {output_dir}")
    record = json.loads(path.read_text())
    _, cluster = resolve_cluster(record["cluster"])
    job_ids: dict[str, str] = record["job_ids"]
    scripts = {name: output_dir / "jobs" / f"{name}.sbatch" for name in job_ids}
    plan = SubmitPlan(scripts=scripts, order=list(job_ids), skipped=list(record.get("skipped", [])))
    return SlurmRunHandle(SlurmBackend(cluster), output_dir, plan, dict(job_ids))
