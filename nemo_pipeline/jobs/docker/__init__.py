"""Docker backend (`backend: docker`, the `[docker]` extra): each component of a job in its container, here; and
building the project's images from dockerfiles/."""

from nemo_pipeline.jobs.docker._backend import DockerBackend, DockerRunHandle, connect, docker_backend, start_container
from nemo_pipeline.jobs.docker._config import DockerClusterConfig
from nemo_pipeline.jobs.docker._images import (
    INPUTS_LABEL,
    BuiltImage,
    ImageBuild,
    ImageBuildError,
    build_image,
    inputs_hash,
)
from nemo_pipeline.jobs.docker._specs import ContainerSpec, container_specs

__all__ = [
    "INPUTS_LABEL",
    "BuiltImage",
    "ContainerSpec",
    "DockerBackend",
    "DockerClusterConfig",
    "DockerRunHandle",
    "ImageBuild",
    "ImageBuildError",
    "build_image",
    "connect",
    "container_specs",
    "docker_backend",
    "inputs_hash",
    "start_container",
]
