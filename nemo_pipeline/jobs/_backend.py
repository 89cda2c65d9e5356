"""The one interface every backend implements, and the registry that picks one from a cluster config.

A cluster config is a YAML file whose `backend:` key names the backend (`local`, `slurm`, `nemo-run`,
`skypilot`; `executor:` is accepted as an older spelling); the rest of the file is that backend's own schema.
A backend receives a JobGraph that holds only the jobs still to run: "is this step complete" was decided by the
graph builder through `nemo_pipeline.layout`, so a backend never decides it on its own.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import yaml

from nemo_pipeline.errors import ConfigError, JobFailedError
from nemo_pipeline.jobs._graph import JobGraph
from nemo_pipeline.jobs._status import JobState
from nemo_pipeline.layout import RunLayout
from nemo_pipeline.records import SubmittedRecord, read_submitted_record, write_submitted_record
from nemo_pipeline.registry import Registry

if TYPE_CHECKING:
    from nemo_pipeline.jobs.eval_graph import ClusterPaths

__all__ = [
    "BACKENDS",
    "Backend",
    "BackendFactory",
    "ClusterSpec",
    "RunHandle",
    "attach_run",
    "create_backend",
    "load_cluster_spec",
    "record_submission",
    "register_backend",
    "submitted_file",
]


class RunHandle(Protocol):
    """The submitted jobs of one run, whatever ran them."""

    @property
    def output_dir(self) -> Path:
        """The run's (or campaign's) output directory."""
        ...

    def status(self) -> dict[str, JobState]:
        """Every job's state now (one batched query)."""
        ...

    def wait(self, timeout_s: float) -> dict[str, JobState]:
        """Block until every job finished; TimeoutError naming the unfinished jobs at the deadline."""
        ...

    def report(self, states: dict[str, JobState] | None = None) -> str:
        """One block per job: state, log path and, for a failed job, the tail of its log."""
        ...

    def raise_for_failures(self, states: dict[str, JobState] | None = None) -> None:
        """JobFailedError naming each job that did not complete, with its log tail."""
        ...

    def cancel(self) -> None:
        """Stop every job of the run that has not ended."""
        ...

    @property
    def job_ids(self) -> dict[str, str]:
        """Job name -> the id its scheduler gave it (what `jobs/submitted.json` records); empty when none."""
        ...

    def fetch_results(self) -> None:
        """Copy the run's files back here when the jobs ran where this machine's files are not (else nothing)."""
        ...


class Backend(Protocol):
    """Runs a JobGraph: locally, on Slurm, through nemo-run, or rendered for SkyPilot."""

    name: str
    separate_components: bool  # True: server and sandbox are components of their own (cluster jobs)
    synchronous: bool  # True: submit() returns once every job ended (local, docker); False: once they are queued

    @property
    def remote(self) -> bool:
        """True when the jobs run where this machine's files are not: data travels inside the run directory."""
        ...

    def cluster_paths(self, output_dir: Path) -> ClusterPaths:
        """Where the jobs find the interpreter, the code and the run directory."""
        ...

    def submit(self, graph: JobGraph) -> RunHandle:
        """Start (or submit) every job of `graph`, keeping its dependencies."""
        ...

    def dry_run(self, graph: JobGraph) -> list[Path]:
        """Write every job's script (and `jobs/submit.sh` where the backend has one) and start nothing."""
        ...

    def attach(self, output_dir: Path, job_ids: dict[str, str]) -> RunHandle:
        """A handle on jobs submitted earlier (for `pipeline/status.py`)."""
        ...


@dataclass(frozen=True)
class ClusterSpec:
    """A cluster config as read from its file: the backend's name and the backend's own settings."""

    name: str  # what --cluster said
    path: Path | None  # the YAML file, None for the built-in `local`
    backend: str
    settings: Mapping[str, object]
    cost_per_gpu_hour: float | None = None  # shown as a cost beside GPU-hours in the summary
    # Where models named by hf://, s3:// or gs:// are fetched, as the jobs see it (a folder the nodes share);
    # None: the local backend's ~/.cache/nemo_pipeline/models, and an error on a cluster that needs one.
    model_cache: str | None = None


BackendFactory = Callable[[ClusterSpec], Backend]
BACKENDS: Registry[BackendFactory] = Registry("backend")


def register_backend(name: str) -> Callable[[BackendFactory], BackendFactory]:
    """`@register_backend("slurm")` on a function building the backend from a ClusterSpec."""
    return BACKENDS.register(name)


def load_cluster_spec(name: str, conf_dir: Path) -> ClusterSpec:
    """`local` -> the local backend; `slurm` or another name -> conf/cluster/<name>.yaml; else a path to a YAML."""
    if name == "local":
        return ClusterSpec("local", None, "local", {})
    candidate = Path(name)
    path = candidate if candidate.suffix in (".yaml", ".yml") else conf_dir / "cluster" / f"{name}.yaml"
    if not path.exists():
        known = sorted(p.stem for p in (conf_dir / "cluster").glob("*.yaml"))
        raise ConfigError(f"--cluster {name}: no cluster config {path}. Known: local, {', '.join(known)}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read cluster config {path}: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"cluster config {path} must be a YAML mapping, got {type(data).__name__}")
    backend = data.pop("backend", None) or data.pop("executor", None) or "slurm"
    data.pop("executor", None)
    if not isinstance(backend, str):
        raise ConfigError(f"cluster config {path}: key 'backend' must be a name, got {backend!r}")
    cost = data.pop("cost_per_gpu_hour", None)
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int | float) or cost < 0):
        raise ConfigError(f"cluster config {path}: key 'cost_per_gpu_hour' must be a number >= 0, got {cost!r}")
    cache = data.pop("model_cache", None)
    if cache is not None and (not isinstance(cache, str) or not cache.startswith(("/", "~"))):
        raise ConfigError(f"cluster config {path}: key 'model_cache' must be an absolute folder, got {cache!r}")
    _import_backends()
    BACKENDS.get(backend)  # an unknown backend fails here, listing the known ones
    return ClusterSpec(name, path, backend, data, None if cost is None else float(cost), cache)


# Backend packages under nemo_pipeline/jobs/ register themselves on import; each imports its engine lazily.
_BACKEND_MODULES = ("local", "slurm", "nemo_run", "skypilot", "docker")


def _import_backends() -> None:
    for module in _BACKEND_MODULES:
        name = f"nemo_pipeline.jobs.{module}"
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name)


def create_backend(spec: ClusterSpec) -> Backend:
    """The backend a cluster config names (its `dry_run(graph)` writes the scripts and starts nothing)."""
    _import_backends()
    return BACKENDS.get(spec.backend)(spec)


def submitted_file(output_dir: Path) -> Path:
    return RunLayout(output_dir).submitted_record


def record_submission(output_dir: Path, spec: ClusterSpec, handle: RunHandle) -> Path:
    """`jobs/submitted.json`: which cluster config and which job ids, so `pipeline/status.py` finds the jobs."""
    path = submitted_file(output_dir)
    write_submitted_record(path, SubmittedRecord(spec.backend, str(spec.path or spec.name), dict(handle.job_ids)))
    return path


def attach_run(output_dir: Path, conf_dir: Path) -> RunHandle:
    """A handle on the jobs a previous `eval.py --cluster X` submitted into `output_dir`."""
    path = submitted_file(output_dir)
    if not path.exists():
        raise JobFailedError(f"{path} not found: no cluster run was submitted into {output_dir}")
    record = read_submitted_record(path)
    spec = load_cluster_spec(record.cluster, conf_dir)
    return create_backend(spec).attach(output_dir, dict(record.job_ids))
