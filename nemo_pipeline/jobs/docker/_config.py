"""The Docker cluster config (`backend: docker`): images per component, mounts, environment, the engine address."""

from __future__ import annotations

from dataclasses import dataclass, field

from nemo_pipeline.errors import ConfigError

__all__ = ["DockerClusterConfig"]


@dataclass(frozen=True)
class DockerClusterConfig:
    """How each component of a job runs in its container on this machine's Docker engine."""

    default_image: str | None = None  # for components that name no image (the pipeline's stages, the sandbox)
    images: dict[str, str] = field(default_factory=dict)  # component name -> image; overrides the component's own
    python: str = "python3"  # the interpreter inside the images that runs the pipeline's stages
    code_dir: str | None = None  # where this checkout is mounted in the containers; default: the same path as here
    mounts: tuple[str, ...] = ()  # extra binds "host_path:container_path[:ro]" (model weights, caches)
    env: dict[str, str] = field(default_factory=dict)  # set in every container
    network_mode: str = "host"  # components of a job talk over 127.0.0.1, as they do on Slurm
    base_url: str | None = None  # the engine, e.g. "unix:///var/run/docker.sock"; default: DOCKER_HOST or that
    shm_size: str | None = "16g"  # model servers need a large /dev/shm
    grace_s: float = 10.0  # after the main component ends, the others get this long to stop
    poll_s: float = 0.5

    def __post_init__(self) -> None:
        for mount in self.mounts:
            parts = mount.split(":")
            if len(parts) not in (2, 3) or not parts[0].startswith("/") or not parts[1].startswith("/"):
                raise ConfigError(f"docker cluster key 'mounts': '{mount}' is not 'host_path:container_path[:ro]'")
            if len(parts) == 3 and parts[2] not in ("ro", "rw"):
                raise ConfigError(f"docker cluster key 'mounts': '{mount}' ends in '{parts[2]}', expected ro or rw")
        if self.code_dir is not None and not self.code_dir.startswith("/"):
            raise ConfigError(f"docker cluster key 'code_dir' must be an absolute path, got {self.code_dir!r}")
