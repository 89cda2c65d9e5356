"""The Slurm cluster config: scheduler flags, container images, environment and an optional ssh target."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.registry import closest

__all__ = ["SlurmClusterConfig", "load_cluster_config"]


@dataclass(frozen=True)
class SlurmClusterConfig:
    """Where and how jobs run on a Slurm cluster (the schema of conf/cluster/slurm.yaml)."""

    partition: str | None = None
    account: str | None = None
    time_limit: str | None = None  # Slurm --time: "MM", "HH:MM:SS" or "D-HH:MM:SS" (whole minutes)
    nodes: int = 1
    gpus_per_node: int | None = None  # GPUs a node has; a job asking for more fails before submission
    cpus_per_task: int | None = None
    mem: str | None = None  # Slurm --mem, e.g. "64G"
    images: dict[str, str] = field(default_factory=dict)  # component name -> container image (pyxis)
    use_default_images: bool = False  # run components in their own default image when `images` names none
    mounts: tuple[str, ...] = ()  # pyxis --container-mounts entries "src:dst[:flags]"
    env: dict[str, str] = field(default_factory=dict)  # exported in every job script
    sbatch_flags: tuple[str, ...] = ()  # extra "#SBATCH" flags, e.g. "--qos=high", "--exclusive"
    srun_flags: tuple[str, ...] = ()  # extra flags for every srun step
    python: str | None = None  # interpreter that runs the supervisor; default: this one locally, python3 remote
    code_dir: str | None = None  # put on PYTHONPATH in jobs; default: this checkout locally, <remote_dir>/code
    grace_s: float = 30.0  # SIGTERM -> SIGKILL grace when stopping a job's background components
    # Remote cluster: code and job scripts are rsynced to the login node and sbatch runs over ssh.
    ssh_host: str | None = None  # "user@host"
    remote_dir: str | None = None  # absolute directory on the cluster holding code/ and run directories
    ssh_args: tuple[str, ...] = ()  # e.g. ("-p", "2222", "-i", "~/.ssh/cluster")
    poll_min_s: float = 0.5
    poll_max_s: float = 30.0

    def __post_init__(self) -> None:
        if (self.ssh_host is None) != (self.remote_dir is None):
            raise ConfigError(
                f"cluster ssh_host={self.ssh_host!r} and remote_dir={self.remote_dir!r}: give both for a remote "
                "cluster, or neither to submit on this machine"
            )
        if self.remote_dir is not None and not self.remote_dir.startswith("/"):
            raise ConfigError(f"cluster remote_dir must be an absolute path on the cluster, got {self.remote_dir!r}")
        if self.nodes < 1:
            raise ConfigError(f"cluster nodes must be >= 1, got {self.nodes}")

    @property
    def remote(self) -> bool:
        return self.ssh_host is not None


_NONE = type(None)


def _check(name: str, value: object, annotation: object) -> object:
    """Check `value` against a field annotation; tuples from lists; raise ConfigError naming the key."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and _NONE in args:
            return None
        (inner,) = [a for a in args if a is not _NONE]
        return _check(name, value, inner)
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"cluster key '{name}' must be a list of strings, got {value!r}")
        return tuple(value)
    if origin is dict:
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise ConfigError(f"cluster key '{name}' must be a mapping of strings, got {value!r}")
        return {k: str(v) for k, v in value.items()}
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, annotation) or (annotation is int and isinstance(value, bool)):  # type: ignore[arg-type]
        raise ConfigError(f"cluster key '{name}' must be {getattr(annotation, '__name__', annotation)}, got {value!r}")
    return value


def _from_mapping(data: Mapping[str, object]) -> SlurmClusterConfig:
    hints = typing.get_type_hints(SlurmClusterConfig)
    known = [f.name for f in dataclasses.fields(SlurmClusterConfig)]
    values: dict[str, object] = {}
    for key, value in data.items():
        if key not in hints:
            raise ConfigError(f"unknown cluster key '{key}'.{closest(key, known)} Known keys: {', '.join(known)}")
        values[key] = _check(key, value, hints[key])
    return SlurmClusterConfig(**values)  # type: ignore[arg-type]


def load_cluster_config(
    source: Path | str | Mapping[str, object],
) -> SlurmClusterConfig:
    """Build a SlurmClusterConfig from a YAML file or a mapping; `executor: slurm` is accepted and ignored."""
    if isinstance(source, Mapping):
        data = dict(source)
    else:
        path = Path(source)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as err:
            raise ConfigError(f"cannot read cluster config {path}: {err}") from err
        if not isinstance(data, dict):
            raise ConfigError(f"cluster config {path} must be a YAML mapping, got {type(data).__name__}")
    executor = data.pop("executor", "slurm")
    if executor != "slurm":
        raise ConfigError(f"cluster config has executor={executor!r}; the Slurm backend needs executor: slurm")
    return _from_mapping(data)
