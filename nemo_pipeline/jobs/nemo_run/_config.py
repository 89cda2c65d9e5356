"""The nemo-run cluster config (`backend: nemo-run`): nemo-run's Slurm executor settings and where it keeps state."""

from __future__ import annotations

from dataclasses import dataclass, field

from nemo_pipeline.errors import ConfigError

__all__ = ["NemoRunClusterConfig"]


@dataclass(frozen=True)
class NemoRunClusterConfig:
    """Schema of conf/cluster/nemo-run-local.yaml: every job becomes one task of one nemo-run experiment."""

    executor: str = "slurm"  # nemo-run's SlurmExecutor (the only one with job dependencies and states from sacct)
    tunnel: str = "local"  # "local": this machine submits (sbatch/sacct on PATH)
    home: str | None = None  # NEMORUN_HOME for the experiment; default: <output_dir>/jobs/nemo-run
    account: str = ""
    partition: str | None = None
    time: str = "01:00:00"  # Slurm --time of every job
    gpus_per_node: int | None = None  # GPUs a node has; a job asking for more fails before submission
    cpus_per_task: int | None = None
    mem: str | None = None
    container_image: str | None = None  # pyxis image the whole task runs in (all components of a job)
    container_mounts: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)  # exported in every task
    srun_args: tuple[str, ...] = ()  # extra flags of the task's srun step
    python: str | None = None  # interpreter that runs the supervisor; default: this one
    grace_s: float = 10.0  # after the main component ends, the others get this long to stop
    poll_min_s: float = 1.0
    poll_max_s: float = 30.0

    def __post_init__(self) -> None:
        if self.executor != "slurm":
            raise ConfigError(f"nemo-run cluster key 'executor': {self.executor!r} is not supported; use slurm")
        if self.tunnel != "local":
            raise ConfigError(
                f"nemo-run cluster key 'tunnel': {self.tunnel!r} is not supported; use local (submit from a login "
                "node), or backend: slurm with ssh_host for a remote cluster"
            )
        if self.poll_min_s <= 0 or self.poll_max_s < self.poll_min_s:
            raise ConfigError(
                f"nemo-run cluster keys 'poll_min_s'/'poll_max_s' must satisfy 0 < min <= max, got "
                f"{self.poll_min_s}/{self.poll_max_s}"
            )
