"""pipeline/eval.py --cluster conf/cluster/docker-local.yaml on the real engine: every component of every job in its
container (the sandbox in nemo-pipeline/sandbox, the generate client, evaluate, metrics and summary in
nemo-pipeline/pipeline), the output directory mounted, against scripted models whose truth the summary must equal.
The model server is a scripted one on 127.0.0.1 (`--server_address`), reached over the host network: no vLLM image
can be built on these machines (docs/CLUSTERS.md)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nemo_pipeline.datasets import load_items
from nemo_pipeline.jsonl import read_jsonl
from tests.conftest import require
from tests.docker.conftest import PIPELINE_IMAGE, SANDBOX_IMAGE
from tests.fakes.openai_server import Script, ScriptedServer

CLUSTER = "conf/cluster/docker-local.yaml"
ITEMS = 4


def _eval(repo: Path, env: dict[str, str], *args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(repo / "pipeline" / "eval.py"), "--cluster", str(repo / CLUSTER), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=repo, check=False)


def _status(repo: Path, env: dict[str, str], out: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(repo / "pipeline" / "status.py"), str(out)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd=repo, check=False)


def _coder(items: list[dict[str, Any]], wrong: set[str]) -> Script:
    """Writes a python block printing the answer (off by one for the `wrong` ids); once the sandbox's output is in
    its context, boxes what the block printed. The truth: exactly the items not in `wrong` are correct."""
    answers = {item["problem"]: (item["expected_answer"], item["id"] in wrong) for item in items}

    def respond(path: str, body: dict[str, Any]) -> str:
        last = body["messages"][-1]
        shown = re.search(r"```output\n(.*?)\n```", last["content"], re.S) if last["role"] == "assistant" else None
        if shown:
            return f"\nSo the answer is \\boxed{{{shown.group(1).strip()}}}."
        expected, off = next(a for p, a in answers.items() if p in last["content"])
        return f"Compute it.\n```python\nprint({expected} + {int(off)})\n```\n```output\n0\n```\nSo 0."

    return Script(responder=respond, apply_stop=True)


def _containers_of(out: Path, job: str) -> list[dict[str, Any]]:
    return json.loads((out / "jobs" / f"{job}.docker.json").read_text())["containers"]


@pytest.mark.timeout(600)
def test_every_component_runs_in_its_container_to_the_scripted_truth(
    docker_client, sandbox_image, pipeline_image, tmp_path, repo, env_with_repo
):
    items = load_items("gsm8k")[:ITEMS]
    wrong = {items[1]["id"]}
    out = tmp_path / "out"
    args = ("--benchmarks", "gsm8k:0", "--server_type", "openai", "--output_dir", str(out), f"++max_samples={ITEMS}",
            "++code_execution=true", "++prompt_config=generic/math-code", "++protocol=cot")  # fmt: skip
    with ScriptedServer(_coder(items, wrong)) as server:
        done = _eval(repo, env_with_repo, *args, "--server_address", server.url)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert len(server.script.requests) == 2 * ITEMS  # one pause for the code, one continuation each
        # Each job's components ran in the images the cluster config names, with the output directory mounted.
        generate = {c["component"]: c for c in _containers_of(out, "generate-gsm8k")}
        assert (generate["sandbox"]["image"], generate["main"]["image"]) == (SANDBOX_IMAGE, PIPELINE_IMAGE)
        assert generate["sandbox"]["security_opt"] == ["seccomp=unconfined"] and generate["sandbox"]["unmask_proc"]
        assert generate["sandbox"]["pid_mode"] == "host" and "/sys/fs/cgroup" in generate["sandbox"]["volumes"]
        for job in ("evaluate-gsm8k", "metrics-gsm8k", "summarize"):
            (main,) = _containers_of(out, job)
            assert main["image"] == PIPELINE_IMAGE and str(out.resolve()) in main["volumes"]
        # The sandbox ran every block with its isolation in force (it refuses to start otherwise).
        sandbox_log = (out / "logs" / "generate-gsm8k" / "sandbox.log").read_text()
        assert "WEAK" not in sandbox_log and "bubblewrap" in sandbox_log, sandbox_log[-2000:]
        records = {r["id"]: r for r in read_jsonl(out / "eval-results" / "gsm8k" / "output.jsonl")}
        assert sorted(records) == sorted(item["id"] for item in items)
        for item in items:
            (execution,) = records[item["id"]]["code_executions"]
            assert execution["process_status"] == "completed"
            assert execution["stdout"].strip() == str(int(item["expected_answer"]) + (item["id"] in wrong))
            assert records[item["id"]]["is_correct"] is (item["id"] not in wrong)
        truth = 100.0 * (ITEMS - len(wrong)) / ITEMS
        metrics = json.loads((out / "eval-results" / "gsm8k" / "metrics.json").read_text())["metrics"]["all"]
        assert metrics["accuracy"] == pytest.approx(truth)
        summary = json.loads((out / "summary.json").read_text())
        (run,) = summary["runs"]
        assert run["benchmarks"]["gsm8k"]["metrics"]["all"]["accuracy"] == pytest.approx(truth)
        for job in ("generate-gsm8k", "evaluate-gsm8k", "metrics-gsm8k", "summarize"):
            assert json.loads((out / "logs" / job / "job.json").read_text())["state"] == "COMPLETED"
        assert not docker_client.containers.list(all=True, filters={"label": f"nemo-pipeline.run={out.resolve()}"})
        status = _status(repo, env_with_repo, out)
        assert status.returncode == 0, status.stdout + status.stderr
        states = {line.split()[0]: line.split()[-1] for line in status.stdout.splitlines() if " (job " in line}
        assert states == dict.fromkeys(["generate-gsm8k", "evaluate-gsm8k", "metrics-gsm8k", "summarize"], "COMPLETED")

        # The same command again: every step is complete, nothing is started and the model is not asked.
        again = _eval(repo, env_with_repo, *args, "--server_address", server.url)
        assert again.returncode == 0, again.stderr[-2000:]
        assert "nothing to do" in again.stdout and "running" not in again.stdout
        assert len(server.script.requests) == 2 * ITEMS


@pytest.mark.timeout(600)
def test_a_campaign_of_two_models_in_containers(sandbox_image, pipeline_image, tmp_path, repo, env_with_repo):
    items = load_items("gsm8k")[:ITEMS]
    answer = {item["problem"][:60]: "The answer is {0}.\n#### {0}".format(item["expected_answer"]) for item in items}
    strong = Script(answers=answer, default="?")
    weak = Script(answers=dict(list(answer.items())[:1]), default="The answer is -1.")
    out = tmp_path / "campaign"
    with ScriptedServer(strong) as a, ScriptedServer(weak) as b:
        models = tmp_path / "models.yaml"
        models.write_text(
            f"- name: strong\n  server_type: openai\n  server_address: {a.url}\n  baseline: true\n"
            f"- name: weak\n  server_type: openai\n  server_address: {b.url}\n"
        )
        done = _eval(repo, env_with_repo, "--models", str(models), "--benchmarks", "gsm8k:0",
                     "--output_dir", str(out), f"++max_samples={ITEMS}")  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (len(strong.requests), len(weak.requests)) == (ITEMS, ITEMS)
    summary = json.loads((out / "summary.json").read_text())
    reported = {run["name"]: run["benchmarks"]["gsm8k"]["metrics"]["all"]["accuracy"] for run in summary["runs"]}
    assert reported == {"strong": pytest.approx(100.0), "weak": pytest.approx(100.0 / ITEMS)}
    (compare,) = _containers_of(out, "compare")
    assert compare["image"] == PIPELINE_IMAGE


@pytest.mark.timeout(600)
def test_a_failing_container_is_reported_with_its_log_tail(pipeline_image, tmp_path, repo, env_with_repo):
    out = tmp_path / "failing"
    # The server is up (health checks pass) but refuses every generation request: the generate container fails.
    with ScriptedServer(Script(fail_first=10**9, fail_status=400)) as server:
        done = _eval(repo, env_with_repo, "--benchmarks", "gsm8k:0", "--server_type", "openai",
                     "--server_address", server.url, "--output_dir", str(out), "++max_samples=2")  # fmt: skip
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "generate-gsm8k (FAILED)" in done.stderr and "component 'main' exit code" in done.stderr
    assert "HTTP 400" in done.stderr  # the tail of the failed container's log
    assert "evaluate-gsm8k (CANCELLED)" in done.stderr and "metrics-gsm8k (CANCELLED)" in done.stderr
    assert json.loads((out / "logs" / "generate-gsm8k" / "job.json").read_text())["state"] == "FAILED"
    status = _status(repo, env_with_repo, out)
    assert status.returncode == 1 and "FAILED" in status.stdout and "CANCELLED" in status.stdout, status.stdout


@pytest.mark.timeout(120)
def test_a_missing_engine_is_one_line_naming_it(tmp_path, repo, env_with_repo):
    require("the docker SDK", importlib.util.find_spec("docker") is not None, 'pip install "nemo-pipeline[docker]"')
    socket_path = tmp_path / "no-engine.sock"
    cluster = tmp_path / "docker.yaml"
    cluster.write_text((repo / CLUSTER).read_text() + f"base_url: unix://{socket_path}\n")
    with ScriptedServer(Script()) as server:
        argv = [sys.executable, str(repo / "pipeline" / "eval.py"), "--cluster", str(cluster),
                "--benchmarks", "gsm8k:0", "--server_type", "openai", "--server_address", server.url,
                "--output_dir", str(tmp_path / "o")]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=100, env=env_with_repo, cwd=repo)
        assert not server.script.requests
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(
        f"error: the docker backend needs a running Docker engine, and none answered at unix://{socket_path}"
    )
    assert not (tmp_path / "o" / "logs").exists()  # no job ran
