"""The README demo for real: llama.cpp's server with the embedded Gemma 3 270M, killed mid-generation and resumed.

The server eval.py starts sits behind a proxy that logs every request (tests/e2e/counting_llama_server.py), so the
test counts what the rerun asked for instead of comparing generated text.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from nemo_pipeline.jsonl import read_jsonl
from tests.e2e.conftest import RequestLog

ITEMS = 10


def _eval_argv(repo, out):
    return [
        sys.executable, str(repo / "pipeline" / "eval.py"), "--cluster", "local", "--benchmarks", "gsm8k:0",
        "--output_dir", str(out), f"++max_samples={ITEMS}", "++server.parallel_requests=2",
        "++max_concurrent_requests=2",
    ]  # fmt: skip


def _lines(path):
    return path.read_text().count("\n") if path.exists() else 0


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_kill_mid_generation_then_resume(tmp_path, repo, counting_llama):
    env_with_repo, log = counting_llama
    out = tmp_path / "out"
    output = out / "eval-results" / "gsm8k" / "output.jsonl"
    proc = subprocess.Popen(
        _eval_argv(repo, out), env=env_with_repo, cwd=repo, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 600
    while _lines(output) < 3:
        assert proc.poll() is None, "eval.py ended before it was killed"
        assert time.monotonic() < deadline, "no generation within 600 s"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # eval.py, its job script and generate.py die at once
    proc.wait(timeout=30)
    kept = {r["id"]: r["problem"] for r in read_jsonl(output)}
    assert 3 <= len(kept) < ITEMS
    first = RequestLog(log.path.rename(log.path.with_name("requests-first-run.jsonl")))
    assert all(first.asking(problem) >= 1 for problem in kept.values())  # the proxy saw the kept items asked
    # The server was started in its own session; neither the proxy eval.py talked to nor the real llama-server
    # behind it may outlive the process that started them.
    (server_log,) = (out / "logs" / "generate-gsm8k").glob("server-llamacpp-*.log")
    ports = [int(p) for p in re.search(r"port (\d+) -> llama-server on port (\d+)", server_log.read_text()).groups()]
    deadline = time.monotonic() + 10
    while any(_port_open(port) for port in ports) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(_port_open(port) for port in ports), f"a server on ports {ports} outlived its parent"
    status = subprocess.run(
        [sys.executable, str(repo / "pipeline" / "status.py"), str(out)],
        capture_output=True, text=True, timeout=60, env=env_with_repo, check=False,
    )  # fmt: skip
    assert status.returncode == 1 and "generate-gsm8k" in status.stdout and "INTERRUPTED" in status.stdout
    assert "rerun the same eval.py command to resume" in status.stdout

    rerun = subprocess.run(
        _eval_argv(repo, out), env=env_with_repo, cwd=repo, capture_output=True, text=True, timeout=780, check=False
    )
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    records = read_jsonl(output)
    ids = [r["id"] for r in records]
    assert len(ids) == ITEMS and len(set(ids)) == ITEMS  # nothing lost, nothing duplicated
    # Kept items were not asked again; every other item was.
    asked = {r["id"]: log.asking(r["problem"]) for r in records}
    assert {i: n for i, n in asked.items() if i in kept and n} == {}, asked
    assert all(n >= 1 for i, n in asked.items() if i not in kept), asked
    generations = [e for e in log.requests() if e["path"].endswith("completions")]
    assert len(generations) == sum(asked.values())  # no generation request the ids do not account for
    assert f"{len(kept)} already done" in rerun.stdout
    assert all(isinstance(r["is_correct"], bool) and "predicted_answer" in r for r in records)
    metrics = json.loads((out / "eval-results" / "gsm8k" / "metrics.json").read_text())["metrics"]["all"]
    assert metrics["num_entries"] == ITEMS
    assert 0.0 <= metrics["accuracy"] <= 100.0
    assert metrics["avg_tokens"] > 0
    for name in ("summary.json", "summary.md", "summary.csv", "report.html"):
        assert (out / name).stat().st_size > 0
    assert (out / "jobs" / "generate-gsm8k.sh").exists()
    status = subprocess.run(
        [sys.executable, str(repo / "pipeline" / "status.py"), str(out)],
        capture_output=True, text=True, timeout=60, env=env_with_repo, check=False,
    )  # fmt: skip
    assert status.returncode == 0, status.stdout
