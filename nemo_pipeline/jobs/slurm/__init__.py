"""Slurm backend: renders one sbatch script per job and submits them with dependencies (locally or over ssh)."""

from nemo_pipeline.jobs.slurm._backend import SlurmBackend, SlurmRunHandle, SubmitPlan
from nemo_pipeline.jobs.slurm._config import SlurmClusterConfig, load_cluster_config
from nemo_pipeline.jobs.slurm._render import (
    RemoteCommands,
    render_sbatch,
    sbatch_argv,
    srun_argv,
)

__all__ = [
    "RemoteCommands",
    "SlurmBackend",
    "SlurmClusterConfig",
    "SlurmRunHandle",
    "SubmitPlan",
    "load_cluster_config",
    "render_sbatch",
    "sbatch_argv",
    "srun_argv",
]
