"""The real Docker engine (Debian's docker.io, started by scripts/start_docker.sh) and the project's images, built
once per test session from dockerfiles/ on the offline base image (scripts/build_base_image.sh); an image whose
build inputs are unchanged since an earlier session is reused as it is."""

from __future__ import annotations

import importlib.util
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import DEV_INSTALL, require

# The attack suite's fixtures, for test_sandbox_container.py (whose `sandbox` is the containerised server).
from tests.sandbox.conftest import clean, client, health  # noqa: F401

BASE_IMAGE = "nemo-pipeline/base:bookworm"
# The tags conf/cluster/docker-local.yaml runs.
SANDBOX_IMAGE = "nemo-pipeline/sandbox:local"
PIPELINE_IMAGE = "nemo-pipeline/pipeline:local"
IMAGES = {"sandbox": SANDBOX_IMAGE, "pipeline": PIPELINE_IMAGE}  # Dockerfile suffix -> tag
ENGINE_HOW = f"{DEV_INSTALL} (installs Debian's docker.io and starts dockerd: scripts/{{install,start}}_docker.sh)"


@pytest.fixture(scope="session")
def docker_client() -> Any:
    """A client of this machine's engine, which answered a ping."""
    require("the docker SDK", importlib.util.find_spec("docker") is not None, 'pip install "nemo-pipeline[docker]"')
    from nemo_pipeline.errors import ConfigError
    from nemo_pipeline.jobs.docker import DockerClusterConfig, connect

    try:
        return connect(DockerClusterConfig())
    except ConfigError as exc:
        require("a Docker engine", False, f"{ENGINE_HOW}; {exc}")


@pytest.fixture(scope="session")
def base_image(docker_client: Any) -> str:
    import docker

    try:
        docker_client.images.get(BASE_IMAGE)
    except docker.errors.ImageNotFound:
        require(f"the base image {BASE_IMAGE}", False, f"{DEV_INSTALL} (scripts/build_base_image.sh makes it)")
    return BASE_IMAGE


def _build(base: str, name: str, tag: str) -> Any:
    from nemo_pipeline.jobs.docker import DockerClusterConfig, ImageBuild, build_image, connect

    engine = connect(DockerClusterConfig())  # one client per thread
    built = build_image(engine, ImageBuild(f"dockerfiles/Dockerfile.{name}", tag, base_image=base))
    how = f"built in {built.build_s:.0f} s" if built.built else "unchanged inputs: reused"
    print(f"\n[docker] {tag}: {built.size / 1e6:.0f} MB, {how}")
    return built


@pytest.fixture(scope="session")
def project_images(docker_client: Any, base_image: str) -> dict[str, Any]:
    """Both images (BuiltImage by tag), built side by side: most of a build waits on apt and pip downloads."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {tag: pool.submit(_build, base_image, name, tag) for name, tag in IMAGES.items()}
        return {tag: future.result() for tag, future in futures.items()}


@pytest.fixture(scope="session")
def sandbox_image(project_images: dict[str, Any]) -> Any:
    """dockerfiles/Dockerfile.sandbox as nemo-pipeline/sandbox:local (a BuiltImage)."""
    return project_images[SANDBOX_IMAGE]


@pytest.fixture(scope="session")
def pipeline_image(project_images: dict[str, Any]) -> Any:
    """dockerfiles/Dockerfile.pipeline as nemo-pipeline/pipeline:local (a BuiltImage)."""
    return project_images[PIPELINE_IMAGE]
