"""The docker backend's container specs, built without an engine: images, mounts, GPUs, what the sandbox's isolation
needs, and the error naming a missing engine. tests/docker runs them on the real engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.jobs._graph import Component, Job, JobGraph
from nemo_pipeline.jobs.docker import DockerBackend, DockerClusterConfig, container_specs
from nemo_pipeline.layout import REPO_ROOT
from tests.backends.conftest import need

CLUSTER = DockerClusterConfig(
    default_image="nemo-pipeline:dev",
    images={"server": "vllm/vllm-openai:v0.8.5"},
    mounts=("/models:/models:ro",),
    env={"HF_HOME": "/models/hf"},
)


def _graph(tmp_path: Path) -> JobGraph:
    graph = JobGraph(tmp_path / "out")
    server = Component(
        "server", ("vllm", "serve", "/models/llama", "--port", "5000"), "vllm/vllm-openai:latest", env={"SETTING": "1"}
    )
    client = Component("main", ("python3", "/code/pipeline/generate.py", "++server.address=http://127.0.0.1:5000/v1"))
    graph.add(Job("generate", (server, client), gpus=2, benchmark="gsm8k"))
    graph.add(Job("evaluate", (Component("main", ("python3", "-c", "print(1)")),), after_ok=("generate",)))
    return graph


@pytest.mark.timeout(30)
def test_container_specs_of_a_server_job(tmp_path: Path) -> None:
    graph = _graph(tmp_path)
    server, client = container_specs(CLUSTER, graph, graph.get("generate"))
    out = str((tmp_path / "out").resolve())
    assert server.image == "vllm/vllm-openai:v0.8.5"  # the config's image wins over the component's own
    assert client.image == "nemo-pipeline:dev"  # no image of its own: the default one
    assert server.gpus == 2 and client.gpus == 0  # GPUs go to the server component
    assert server.network_mode == "host" and client.network_mode == "host"
    assert server.volumes[out] == {"bind": out, "mode": "rw"}
    assert server.volumes["/models"] == {"bind": "/models", "mode": "ro"}
    assert server.volumes[str(REPO_ROOT)]["mode"] == "ro"
    assert client.environment["HF_HOME"] == "/models/hf" and client.environment["PYTHONPATH"] == str(REPO_ROOT)
    assert server.environment["SETTING"] == "1" and "SETTING" not in client.environment  # the component's own
    assert server.environment["HF_HOME"] == "/models/hf"
    assert server.labels["nemo-pipeline.job"] == "generate" and server.labels["nemo-pipeline.run"] == out
    assert server.name != client.name and server.name.startswith("np-")
    assert client.log == str(Path(out) / "logs" / "generate" / "main.log")
    need("docker", "docker")
    kwargs = server.kwargs()
    assert kwargs["entrypoint"] == ["vllm"]  # the image's entrypoint cannot prefix our argv
    assert kwargs["command"] == ["serve", "/models/llama", "--port", "5000"]
    requests = kwargs["device_requests"]
    assert isinstance(requests, list) and len(requests) == 1
    request = requests[0]
    assert request["Count"] == 2 and request["Capabilities"] == [["gpu"]]
    assert "device_requests" not in client.kwargs()


@pytest.mark.timeout(30)
def test_a_component_without_any_image_is_named(tmp_path: Path) -> None:
    graph = _graph(tmp_path)
    with pytest.raises(ConfigError, match=r"job 'generate', component 'main': no container image.*default_image"):
        container_specs(DockerClusterConfig(), graph, graph.get("generate"))


@pytest.mark.timeout(30)
def test_dry_run_writes_the_containers_of_every_job(tmp_path: Path) -> None:
    graph = _graph(tmp_path)
    paths = DockerBackend(CLUSTER).dry_run(graph)
    assert [p.name for p in paths] == ["generate.docker.json", "evaluate.docker.json"]
    record = json.loads(paths[1].read_text())
    assert record["after_ok"] == ["generate"]
    assert record["containers"][0]["command"] == ["python3", "-c", "print(1)"]


@pytest.mark.timeout(60)
def test_missing_engine_is_named_before_any_job_runs(tmp_path: Path) -> None:
    need("docker", "docker")
    socket_path = tmp_path / "no-engine.sock"
    backend = DockerBackend(DockerClusterConfig(default_image="x", base_url=f"unix://{socket_path}"))
    graph = _graph(tmp_path)
    with pytest.raises(ConfigError, match=rf"needs a running Docker engine, and none answered at unix://{socket_path}"):
        backend.submit(graph)
    assert not (tmp_path / "out" / "logs").exists()  # nothing ran


@pytest.mark.timeout(30)
def test_only_the_sandbox_gets_what_its_isolation_needs(tmp_path: Path) -> None:
    graph = JobGraph(tmp_path / "out")
    sandbox = Component("sandbox", ("python3", "-m", "nemo_pipeline.sandbox", "--port", "8100"))
    graph.add(Job("generate", (sandbox, Component("main", ("python3", "-c", "print(1)")))))
    box, main = container_specs(CLUSTER, graph, graph.get("generate"))
    assert box.security_opt == ("seccomp=unconfined",) and box.unmask_proc and box.pid_mode == "host"
    assert box.volumes["/sys/fs/cgroup"] == {"bind": "/sys/fs/cgroup", "mode": "rw"}
    assert (main.security_opt, main.unmask_proc, main.pid_mode) == ((), False, None)
    assert "/sys/fs/cgroup" not in main.volumes
    need("docker", "docker")
    kwargs = box.kwargs()
    assert kwargs["security_opt"] == ["seccomp=unconfined"] and kwargs["pid_mode"] == "host"
    assert "security_opt" not in main.kwargs() and "pid_mode" not in main.kwargs()
