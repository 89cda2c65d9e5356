"""The SkyPilot cluster config (`backend: skypilot`): resources, the bucket holding run directories, model sources."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nemo_pipeline.errors import ConfigError

__all__ = ["ModelSource", "SkyPilotClusterConfig", "parse_model_source"]

_CLOUD = re.compile(r"^(s3|gs|r2|cos|oci|https)://.+")
_HF = re.compile(r"^hf://([\w.\-]+/[\w.\-]+)$")


@dataclass(frozen=True)
class ModelSource:
    """Where a model the jobs name by `mount_path` comes from."""

    mount_path: str  # the path jobs use (`--model /models/llama`)
    kind: str  # "cloud" (s3://, gs://, ...), "local" (uploaded from this machine) or "hf" (downloaded in setup)
    source: str  # the URI, the local path, or the Hugging Face repo id


def parse_model_source(mount_path: str, source: str) -> ModelSource:
    if not mount_path.startswith("/"):
        raise ConfigError(f"skypilot cluster key 'models': mount path {mount_path!r} must be absolute")
    if _CLOUD.match(source):
        return ModelSource(mount_path, "cloud", source)
    match = _HF.match(source)
    if match:
        return ModelSource(mount_path, "hf", match.group(1))
    if source.startswith("/") or source.startswith("~"):
        return ModelSource(mount_path, "local", source)
    raise ConfigError(
        f"skypilot cluster key 'models': source {source!r} of {mount_path} is not a bucket URI (s3://, gs://, r2://, "
        "cos://, oci://), an absolute local path, or a Hugging Face id written hf://ORG/NAME"
    )


@dataclass(frozen=True)
class SkyPilotClusterConfig:
    """Schema of conf/cluster/skypilot-example.yaml: one SkyPilot task per job, one pipeline per run directory."""

    bucket: str  # the bucket (name) that holds the run directory: uploaded from here, mounted on every node
    store: str = "s3"  # s3, gcs, azure, r2, ibm, oci
    remote_root: str = "/outputs"  # where the bucket (the run's output directory) is mounted on the nodes
    code_dir: str = "/nemo-pipeline"  # where this checkout is copied on the nodes
    infra: str | None = None  # SkyPilot's `infra:` ("aws", "gcp/us-central1", "k8s", ...); None: any enabled
    accelerator: str = "H100"  # GPU type; the count is the job's GPUs (the model server's)
    cpus: str | None = "8+"
    memory: str | None = None
    disk_size: int | None = None  # GB
    image_id: str | None = None  # e.g. "docker:nvcr.io/nvidia/pytorch:24.05-py3"
    use_spot: bool = False
    python: str = "python3"  # the interpreter on the nodes
    setup: str = "python3 -m pip install -q -e ."  # run in code_dir on each node before its job
    models: dict[str, str] = field(default_factory=dict)  # mount path -> s3://..., gs://..., /local/path, hf://ORG/NAME
    env: dict[str, str] = field(default_factory=dict)  # `envs:` of every task
    launch: bool = False  # submit runs `sky jobs launch` for each pipeline; otherwise it only prints the commands

    def __post_init__(self) -> None:
        for key in ("remote_root", "code_dir"):
            if not getattr(self, key).startswith("/"):
                raise ConfigError(f"skypilot cluster key '{key}' must be an absolute path, got {getattr(self, key)!r}")
        if self.store not in ("s3", "gcs", "azure", "r2", "ibm", "oci"):
            raise ConfigError(
                f"skypilot cluster key 'store': {self.store!r} is not one of s3, gcs, azure, r2, ibm, oci"
            )
        if not re.match(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$", self.bucket):
            raise ConfigError(f"skypilot cluster key 'bucket': {self.bucket!r} is not a valid bucket name")
        for path, source in self.models.items():
            parse_model_source(path, source)

    def model_sources(self) -> list[ModelSource]:
        return [parse_model_source(path, source) for path, source in sorted(self.models.items())]
