"""Docker backend (`backend: docker`, the `[docker]` extra): each component of a job in its container, here."""

from nemo_pipeline.jobs.docker._backend import DockerBackend, DockerRunHandle, connect, docker_backend
from nemo_pipeline.jobs.docker._config import DockerClusterConfig
from nemo_pipeline.jobs.docker._specs import ContainerSpec, container_specs

__all__ = [
    "ContainerSpec",
    "DockerBackend",
    "DockerClusterConfig",
    "DockerRunHandle",
    "connect",
    "container_specs",
    "docker_backend",
]
