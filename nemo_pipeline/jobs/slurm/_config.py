"""The Slurm cluster config: scheduler flags, container images, environment and an optional ssh target."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from nemo_pipeline.config import typed_from_mapping
from nemo_pipeline.errors import ConfigError

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


def load_cluster_config(source: Path | str | Mapping[str, object], where: str = "cluster") -> SlurmClusterConfig:
    """Build a SlurmClusterConfig from a YAML file or a mapping (`where` names it in errors); `executor: slurm` is
    accepted and ignored."""
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
        where = f"cluster config {path}"
    executor = data.pop("executor", "slurm")
    if executor != "slurm":
        raise ConfigError(f"cluster config has executor={executor!r}; the Slurm backend needs executor: slurm")
    return typed_from_mapping(SlurmClusterConfig, data, where)
