"""The nemo-run backend for real: nemo-run's SlurmExecutor with a LocalTunnel on the single-node Slurm (with
accounting: nemo-run reads states from sacct). The Slurm daemons listen on the host's loopback, which a network
namespace of our own cannot reach, so these tests run with the network and refuse, in this process, every
connection outside 127.0.0.0/8 (the `loopback_only` guard); sbatch/sacct are children it does not cover."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.config import EvalConfig, compose_config
from nemo_pipeline.errors import JobFailedError
from nemo_pipeline.jobs import Component, Job, JobGraph, build_eval_graph, parse_benchmarks
from nemo_pipeline.jobs._status import JobState
from nemo_pipeline.jobs.nemo_run import NemoRunBackend, NemoRunClusterConfig
from tests.backends.conftest import need
from tests.fakes.openai_server import Script, ScriptedServer

CLUSTER = NemoRunClusterConfig(time="00:10:00", gpus_per_node=0, grace_s=5, poll_min_s=0.5, poll_max_s=2)


def _missing(reason: str) -> None:
    if os.environ.get("CI"):  # CI installs Slurm with accounting and the [nemo-run] extra: missing is a failure
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def nemo_run_on_slurm() -> None:
    """nemo-run importable, a Slurm controller up, and sacct answering (nemo-run reads job states from it)."""
    need("nemo_run", "nemo-run")
    start = "bash scripts/install_slurm.sh && bash scripts/start_slurm.sh"
    for tool in ("sbatch", "sacct"):
        if shutil.which(tool) is None:
            _missing(f"'{tool}' is not on PATH; install the single-node Slurm with: {start}")
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30, check=False)
    if ping.returncode != 0 or "UP" not in ping.stdout:
        _missing(f"the Slurm controller is down ({ping.stdout.strip() or ping.stderr.strip()}); start it: {start}")
    probe = subprocess.run(["sacct", "-n", "-X"], capture_output=True, text=True, timeout=30, check=False)
    if probe.returncode != 0:
        _missing(f"sacct does not answer ({probe.stderr.strip()}); nemo-run needs Slurm accounting: {start}")


def _graph(tmp_path: Path, data: Path, url: str, backend: NemoRunBackend) -> JobGraph:
    cfg = compose_config(
        EvalConfig,
        "eval",
        # The tiny data file has no lm-eval few-shot prompts: the "The answer is N" protocol (cot) grades it.
        [
            "++server.server_type=openai",
            f"++server.address={url}",
            "++server.model=scripted",
            "++max_samples=5",
            "++protocol=cot",
        ],
    )
    out = tmp_path / "out"
    return build_eval_graph(parse_benchmarks("gsm8k:0"), cfg, out, {"gsm8k": data}, backend.cluster_paths(out), True)


@pytest.mark.timeout(600)
def test_eval_graph_runs_as_a_nemo_run_experiment_and_reruns_skip_what_is_done(
    nemo_run_on_slurm: None, loopback_only: Path, tmp_path: Path, tiny_gsm8k: Path
) -> None:
    # The scripted server knows three of the five answers: accuracy must come out at 60%.
    rows = [json.loads(line) for line in tiny_gsm8k.read_text().splitlines()]
    answers = {
        row["problem"]: f"The answer is {row['expected_answer']}.\n#### {row['expected_answer']}" for row in rows[:3]
    }
    backend = NemoRunBackend(CLUSTER)
    with ScriptedServer(Script(answers=answers, default="The answer is 12345.")) as server:
        graph = _graph(tmp_path, tiny_gsm8k, server.url, backend)
        names = [job.name for job in graph.jobs]
        assert any(name.startswith("generate") for name in names) and "summarize" in names
        handle = backend.submit(graph)
        states = handle.wait(420)
        assert set(states.values()) == {JobState.COMPLETED}, handle.report(states)
        handle.raise_for_failures(states)
        requests = len(server.script.requests)
        assert requests == 5
        out = graph.output_dir
        metrics = json.loads((out / "eval-results" / "gsm8k" / "metrics.json").read_text())["metrics"]["all"]
        assert metrics["num_entries"] == 5
        assert metrics["accuracy"] == pytest.approx(60.0)
        assert "gsm8k" in (out / "summary.json").read_text()
        record = json.loads((out / "jobs" / "nemo-run.json").read_text())
        assert set(record["tasks"]) == set(names)
        assert (out / "jobs" / "nemo-run" / "experiments" / "nemo-pipeline" / record["experiment_id"]).is_dir()
        # Logs through nemo-run: its task log holds the supervisor's output.
        assert "main component 'main' succeeded" in handle.log_path(names[0]).read_text()
        # The same handle from the record, as pipeline/status.py gets it.
        again = backend.attach(out, handle.job_ids).status()
        assert again == states
        # A rerun builds a graph of what is left: no generation, no new requests.
        rerun = _graph(tmp_path, tiny_gsm8k, server.url, backend)
        assert not any(job.name.startswith(("generate", "evaluate")) for job in rerun.jobs)
        if rerun.jobs:
            assert set(backend.submit(rerun).wait(300).values()) == {JobState.COMPLETED}
        assert len(server.script.requests) == requests


@pytest.mark.timeout(300)
def test_a_failing_job_cancels_its_dependents_and_is_reported_with_its_log_tail(
    nemo_run_on_slurm: None, loopback_only: Path, tmp_path: Path
) -> None:
    py = sys.executable
    graph = JobGraph(tmp_path / "out")
    # The first job also proves the guard reaches Slurm jobs: its attempt to leave the machine is refused and logged.
    probe = (
        "import socket\ntry:\n    socket.create_connection(('192.0.2.1', 443), 3)\nexcept OSError as e:\n    print(e)"
    )
    graph.add(Job("prepare", (Component("main", (py, "-c", probe)),)))
    failing = (py, "-c", "import sys; print('model exploded: CUDA out of memory'); sys.exit(3)")
    server = Component("server", (py, "-c", "import time; time.sleep(600)"))
    graph.add(Job("generate", (server, Component("main", failing)), after_ok=("prepare",)))
    graph.add(Job("evaluate", (Component("main", (py, "-c", "print('never')")),), after_ok=("generate",)))
    graph.add(Job("metrics", (Component("main", (py, "-c", "print('never')")),), after_ok=("evaluate",)))
    graph.add(Job("summarize", (Component("main", (py, "-c", "print('summary')")),), after_any=("metrics",)))
    handle = NemoRunBackend(CLUSTER).submit(graph)
    states = handle.wait(240)
    assert states == {
        "prepare": JobState.COMPLETED,
        "generate": JobState.FAILED,
        "evaluate": JobState.CANCELLED,
        "metrics": JobState.CANCELLED,
        "summarize": JobState.COMPLETED,  # afterany: it runs whatever happened, and reports what is missing
    }
    with pytest.raises(JobFailedError) as caught:
        handle.raise_for_failures(states)
    message = str(caught.value)
    assert "generate (FAILED)" in message and "evaluate (CANCELLED)" in message and "metrics (CANCELLED)" in message
    assert "model exploded: CUDA out of memory" in message  # the failed job's log tail
    assert not (tmp_path / "out" / "logs" / "evaluate" / "main.log").exists()  # a cancelled job never started
    # The server component was stopped when the main one failed; its record says FAILED.
    job_record = json.loads((tmp_path / "out" / "logs" / "generate" / "job.json").read_text())
    assert job_record["state"] == "FAILED"
    assert (
        "loopback guard: connection to 192.0.2.1 refused"
        in (tmp_path / "out" / "logs" / "prepare" / "main.log").read_text()
    )
    assert "192.0.2.1:443" in loopback_only.read_text()
    loopback_only.write_text("")  # the one expected attempt


@pytest.mark.timeout(600)
def test_eval_py_with_a_nemo_run_cluster_file_and_status_py(
    nemo_run_on_slurm: None, loopback_only: Path, tmp_path: Path, repo: Path, env_with_repo: dict[str, str]
) -> None:
    out = tmp_path / "run"
    cluster = repo / "conf" / "cluster" / "nemo-run-local.yaml"

    def eval_py(url: str) -> subprocess.CompletedProcess[str]:
        argv = [
            sys.executable, str(repo / "pipeline" / "eval.py"), "--cluster", str(cluster), "--benchmarks", "gsm8k:0",
            "--server_type", "openai", "--server_address", url, "--model", "scripted", "--output_dir", str(out),
            "++max_samples=4", "--wait",
        ]  # fmt: skip
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=540, env=env_with_repo, cwd=repo, check=False,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip

    with ScriptedServer(Script(default="The answer is 12345.")) as server:
        done = eval_py(server.url)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "nemo-run experiment nemo-pipeline_" in done.stdout
        assert len(server.script.requests) == 4
        metrics = json.loads((out / "eval-results" / "gsm8k" / "metrics.json").read_text())["metrics"]["all"]
        assert metrics["num_entries"] == 4 and metrics["accuracy"] == 0.0  # the scripted answer is always wrong
        status = subprocess.run(
            [sys.executable, str(repo / "pipeline" / "status.py"), str(out)],
            capture_output=True, text=True, timeout=120, env=env_with_repo, check=False, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert status.returncode == 0, status.stdout + status.stderr
        assert status.stdout.count("COMPLETED") >= 4 and "log-np.generate" in status.stdout
        again = eval_py(server.url)  # everything is complete: nothing new is generated
        assert again.returncode == 0, again.stderr[-3000:]
        assert len(server.script.requests) == 4
