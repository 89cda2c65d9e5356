"""SkyPilot task YAML for a two-model campaign, validated by SkyPilot's own parser with no network and an empty HOME
(the test re-runs itself in a network namespace). Nothing is launched; no API server or controller starts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from nemo_pipeline.config import EvalConfig, compose_config
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.jobs import Component, Job, JobGraph, add_model_jobs, parse_benchmarks
from nemo_pipeline.jobs.skypilot import SkyPilotBackend, SkyPilotClusterConfig, validate_task_files
from tests.backends.conftest import need

CLUSTER = SkyPilotClusterConfig(
    bucket="np-test-runs",
    infra="aws",
    accelerator="L4",
    models={
        "/models/llama": "s3://my-models/llama3-8b",
        "/models/qwen": "hf://Qwen/Qwen2.5-0.5B-Instruct",
        "/models/unused": "gs://my-models/other",
    },
    env={"HF_HUB_ENABLE_HF_TRANSFER": "1"},
)


def _campaign(tmp_path: Path, backend: SkyPilotBackend) -> JobGraph:
    """Two models, each a run directory of its own: llama on 2 GPUs from S3, qwen on 1 GPU from Hugging Face."""
    out = (tmp_path / "campaign").resolve()
    data = out / "data" / "gsm8k.jsonl"  # a remote backend's data travels inside the run directory
    data.parent.mkdir(parents=True)
    data.write_text('{"id": "a", "problem": "1+1?", "expected_answer": "2"}\n')
    graph = JobGraph(out)
    for name, model, gpus in (("llama", "/models/llama", 2), ("qwen", "/models/qwen", 1)):
        cfg = compose_config(
            EvalConfig, "eval", ["++server.server_type=vllm", f"++server.model={model}", f"++server.gpus={gpus}"]
        )
        add_model_jobs(graph, parse_benchmarks("gsm8k:0"), cfg, {"gsm8k": data}, backend.cluster_paths(out), True, name)
    return graph


@pytest.mark.timeout(300)
def test_two_model_campaign_renders_valid_skypilot_tasks(offline: bool, tmp_path: Path) -> None:
    if not offline:
        return  # the run inside the network namespace passed
    need("sky", "skypilot")
    assert os.environ["SKYPILOT_DISABLE_USAGE_COLLECTION"] == "1"
    backend = SkyPilotBackend(CLUSTER)
    graph = _campaign(tmp_path, backend)
    paths = backend.dry_run(graph)  # renders, then loads every file with SkyPilot's parser
    out = graph.output_dir
    for model, mount in (("llama", "/models/llama"), ("qwen", "/models/qwen")):
        jobs_dir = out / model / "jobs"
        assert jobs_dir / "pipeline.sky.yaml" in paths
        jobs = [j for j in graph.jobs if j.run_dir == model]
        tasks = {j.name: yaml.safe_load((jobs_dir / f"{j.file_stem}.sky.yaml").read_text()) for j in jobs}
        for job in jobs:
            task = tasks[job.name]
            # resources per job: the server's GPUs (none for jobs without a server)
            assert task["resources"].get("accelerators") == (f"L4:{job.gpus}" if job.gpus else None)
            assert task["resources"]["infra"] == "aws"
            assert task["file_mounts"]["/outputs"]["source"] == str(out)
            assert task["file_mounts"]["/outputs"]["mode"] == "MOUNT"
            assert "/models/unused" not in task["file_mounts"]  # only the models a job names
            assert f"cd /outputs/{model}" in task["run"]
            assert f"/outputs/{model}/logs/{job.file_stem}/job.json" in task["run"]
            assert str(out) not in task["run"]  # every path in the commands is the node's
            assert task["envs"]["HF_HUB_ENABLE_HF_TRANSFER"] == "1"
        servers = [j for j in jobs if any(c.name == "server" for c in j.components)]
        assert len(servers) == 1
        server_task = tasks[servers[0].name]
        assert f"-m vllm.entrypoints.openai.api_server --model {mount}" in server_task["run"]
        # The server type's launch environment travels with its component (vLLM's usage reports off on the node).
        assert "--env server VLLM_NO_USAGE_STATS=1 --env server VLLM_DO_NOT_TRACK=1" in server_task["run"]
        documents = list(yaml.safe_load_all((jobs_dir / "pipeline.sky.yaml").read_text()))
        assert documents[0] == {"name": f"campaign-{model}"}
        assert [d["name"] for d in documents[1:]] == [j.name for j in jobs]  # graph order keeps dependencies
    llama = next(
        yaml.safe_load(p.read_text()) for p in paths if p.name == "generate-gsm8k.sky.yaml" and "llama" in str(p)
    )
    assert llama["file_mounts"]["/models/llama"] == "s3://my-models/llama3-8b"
    qwen = next(
        yaml.safe_load(p.read_text()) for p in paths if p.name == "generate-gsm8k.sky.yaml" and "qwen" in str(p)
    )
    assert "/models/qwen" not in qwen["file_mounts"]
    assert "huggingface-cli download Qwen/Qwen2.5-0.5B-Instruct --local-dir /models/qwen" in qwen["setup"]


def graph_names(graph: JobGraph) -> list[str]:
    return [job.name for job in graph.jobs]


@pytest.mark.timeout(300)
def test_server_gpus_become_the_task_accelerators(offline: bool, tmp_path: Path) -> None:
    if not offline:
        return
    need("sky", "skypilot")
    weights = tmp_path / "weights"  # a local path: SkyPilot uploads it
    weights.mkdir()
    graph = JobGraph(tmp_path / "out")
    server = Component("server", ("vllm", "serve", "/models/llama", "--tensor-parallel-size", "4"))
    graph.add(Job("generate", (server, Component("main", ("python3", "-c", "print(1)"))), gpus=4))
    judge = Component("judge-server", ("vllm", "serve", "/models/judge"))
    graph.add(
        Job(
            "evaluate",
            (
                judge,
                Component("main", ("python3", "-c", "2")),
            ),
            after_ok=("generate",),
            gpus=1,
        )
    )
    graph.add(Job("metrics", (Component("main", ("python3", "-c", "print(3)")),), after_ok=("evaluate",)))
    models = {**CLUSTER.models, "/models/judge": str(weights)}
    backend = SkyPilotBackend(SkyPilotClusterConfig(bucket="np-test-runs", accelerator="L4", models=models))
    backend.dry_run(graph)
    tasks = {
        job: yaml.safe_load((graph.output_dir / "jobs" / f"{job}.sky.yaml").read_text()) for job in graph_names(graph)
    }
    assert tasks["generate"]["resources"]["accelerators"] == "L4:4"
    assert tasks["evaluate"]["resources"]["accelerators"] == "L4:1"
    assert "accelerators" not in tasks["metrics"]["resources"]
    assert tasks["generate"]["file_mounts"]["/models/llama"] == "s3://my-models/llama3-8b"
    assert tasks["evaluate"]["file_mounts"]["/models/judge"] == str(weights)
    assert (
        "/models/llama" not in tasks["evaluate"]["file_mounts"]
        and "/models/judge" not in tasks["generate"]["file_mounts"]
    )
    assert "--component judge-server -- vllm serve /models/judge" in tasks["evaluate"]["run"]


@pytest.mark.timeout(300)
def test_skypilot_parser_rejects_a_broken_task(offline: bool, tmp_path: Path) -> None:
    if not offline:
        return
    need("sky", "skypilot")
    good = {"name": "x", "resources": {"accelerators": "L4:1"}, "run": "echo hi"}
    bad_field = tmp_path / "bad-field.sky.yaml"
    bad_field.write_text(yaml.safe_dump({**good, "resourcez": {}}))
    bad_value = tmp_path / "bad-value.sky.yaml"
    bad_value.write_text(yaml.safe_dump({**good, "resources": {"accelerators": "L4:many"}}))
    for path in (bad_field, bad_value):
        with pytest.raises(ConfigError, match=rf"{path}: SkyPilot rejects this task"):
            validate_task_files([path])


@pytest.mark.timeout(120)
def test_submit_without_launch_prints_the_commands_and_launches_nothing(
    offline: bool, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not offline:
        return
    need("sky", "skypilot")
    backend = SkyPilotBackend(CLUSTER)
    graph = _campaign(tmp_path, backend)
    handle = backend.submit(graph)
    printed = capsys.readouterr().out
    for model in ("llama", "qwen"):
        assert (
            f"sky jobs launch -y -d -n campaign-{model} {graph.output_dir / model / 'jobs' / 'pipeline.sky.yaml'}"
            in printed
        )
    assert set(handle.job_ids.values()) == {"campaign-llama", "campaign-qwen"}
    with pytest.raises(ConfigError, match="sky jobs queue"):
        handle.wait(1)
