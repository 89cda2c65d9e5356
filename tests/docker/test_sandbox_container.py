"""The sandbox in its container keeps its isolation: the attack suite of tests/sandbox/test_attacks.py, run against
nemo-pipeline/sandbox started as the docker backend starts a job's sandbox component, and a start without each of
the container options the isolation needs fails, naming the layer and the option, instead of running weaker."""

from __future__ import annotations

import dataclasses
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nemo_pipeline.jobs._graph import Component, Job, JobGraph
from nemo_pipeline.jobs.docker import ContainerSpec, DockerClusterConfig, container_specs, start_container
from tests.docker.conftest import SANDBOX_IMAGE
from tests.sandbox.conftest import SECRET_NAME, SECRET_VALUE
from tests.sandbox.test_attacks import *  # noqa: F403 (the attack suite, collected here against the container)

START_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _sandbox_spec(tmp: Path, port: int) -> ContainerSpec:
    """The sandbox component's container exactly as the docker backend builds it for a job."""
    cluster = DockerClusterConfig(
        images={"sandbox": SANDBOX_IMAGE},
        # /var/tmp: a host directory writable in the container, so only the sandbox's read-only / can stop a write
        mounts=("/var/tmp:/var/tmp:rw",),
        env={SECRET_NAME: SECRET_VALUE},  # in the server's environment; no sandboxed program may see it
    )
    argv = ("python3", "-m", "nemo_pipeline.sandbox", "--host", "127.0.0.1", "--port", str(port), "--workers", "4",
            "--memory-mb", "512", "--max-processes", "32")  # fmt: skip
    graph = JobGraph(tmp)
    graph.add(Job("sandbox-attacks", (Component("sandbox", argv),)))
    (spec,) = container_specs(cluster, graph, graph.get("sandbox-attacks"))
    return dataclasses.replace(spec, name=f"{spec.name}-{port}")


class ContainerSandbox:
    """A sandbox server in its container; `url` as LocalSandbox has it."""

    def __init__(self, docker_client: Any, spec: ContainerSpec, port: int) -> None:
        self.client, self.spec = docker_client, spec
        self.url = f"http://127.0.0.1:{port}"
        self.container: Any = None

    def start(self) -> None:
        self.container = start_container(self.client, self.spec)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            self.container.reload()
            if self.container.status in ("exited", "dead"):
                raise RuntimeError(f"sandbox container exited:\n{self.logs()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"sandbox container not healthy after {START_TIMEOUT_S}s:\n{self.logs()[-3000:]}")
            time.sleep(0.2)

    def exit_code(self, timeout_s: float = START_TIMEOUT_S) -> int:
        return int(self.container.wait(timeout=timeout_s)["StatusCode"])

    def logs(self) -> str:
        return self.container.logs().decode(errors="replace") if self.container is not None else ""

    def remove(self) -> None:
        if self.container is not None:
            self.container.remove(force=True)


@pytest.fixture(scope="session")
def sandbox(docker_client: Any, sandbox_image: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Overrides tests/sandbox's local server: the attack suite above runs against this container."""
    port = _free_port()
    server = ContainerSandbox(docker_client, _sandbox_spec(tmp_path_factory.mktemp("sandbox-job"), port), port)
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.mark.timeout(60)
def test_the_containerised_sandbox_reports_every_layer(health: dict) -> None:
    iso = health["isolation"]
    assert not iso["weak"] and iso["missing"] == {}, iso
    assert iso["bubblewrap"] and iso["uid_drop"] and iso["cgroup"] == "v1"
    assert health["languages"]["python"] == "/usr/bin/python3"


WITHOUT = {
    "seccomp": (
        {"security_opt": ()},
        "bubblewrap",
        "--security-opt seccomp=unconfined",
    ),
    "masked /proc": (
        {"unmask_proc": False},
        "bubblewrap: bubblewrap failed (exit 1): bwrap: Can't mount proc",
        "--security-opt systempaths=unconfined",
    ),
    "read-only cgroups": (
        {"volumes": "no-cgroup"},
        "cgroup: cannot create cgroups under /sys/fs/cgroup",
        "-v /sys/fs/cgroup:/sys/fs/cgroup:rw",
    ),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("missing", list(WITHOUT))
def test_a_start_without_an_option_fails_naming_it(
    missing: str, docker_client: Any, sandbox_image: Any, tmp_path: Path
) -> None:
    change, layer, option = WITHOUT[missing]
    port = _free_port()
    spec = _sandbox_spec(tmp_path, port)
    if change.get("volumes") == "no-cgroup":
        change = {"volumes": {k: v for k, v in spec.volumes.items() if k != "/sys/fs/cgroup"}}
    server = ContainerSandbox(docker_client, dataclasses.replace(spec, **change), port)
    try:
        server.container = start_container(docker_client, server.spec)
        assert server.exit_code() == 2
        logs = server.logs()
    finally:
        server.remove()
    assert "Refusing to start" in logs and "SANDBOX ISOLATION IS WEAK" in logs, logs[-2000:]
    named = next(line for line in logs.splitlines() if line.strip().startswith(f"- {layer.split(':')[0]}:"))
    assert layer in named and f"in a container, run it with {option}" in named, named
