"""The local backend shows live progress of a generating job, writes each job's record (wall time, GPUs) and a
submit.sh that reruns the chain; status.py shows items done of total."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nemo_pipeline.jobs import Component, Job, JobGraph, LocalBackend
from nemo_pipeline.layout import RunLayout

WRITER = """
import sys, time
from pathlib import Path
from nemo_pipeline.progress import ProgressWriter
writer = ProgressWriter(Path(sys.argv[1]), total=4, done=1, interval_s=0.0)
for _ in range(3):
    time.sleep(0.4)
    writer.advance()
"""


@pytest.mark.timeout(60)
def test_progress_lines_job_records_and_submit_script(tmp_path, capsys, repo, env_with_repo):
    out = tmp_path / "out"
    output = out / "eval-results" / "gsm8k" / "output.jsonl"
    output.parent.mkdir(parents=True)
    graph = JobGraph(out)
    graph.add(Job("generate-gsm8k", (Component("main", (sys.executable, "-c", WRITER, str(output))),),
                  gpus=2, benchmark="gsm8k", outputs=("eval-results/gsm8k/output.jsonl",)))  # fmt: skip
    graph.add(Job("fails", (Component("main", ("false",)),), after_ok=("generate-gsm8k",)))
    graph.add(Job("skipped", (Component("main", ("true",)),), after_ok=("fails",)))
    run = LocalBackend(progress_interval_s=0.1).submit(graph)
    printed = capsys.readouterr().out
    assert "[generate-gsm8k] gsm8k/output.jsonl: " in printed and "/4 items" in printed and "items/s" in printed
    assert run.status()["generate-gsm8k"].value == "COMPLETED" and run.status()["skipped"].value == "CANCELLED"
    (record,) = [r for r in RunLayout(out).job_records() if r.job == "generate-gsm8k"]
    assert record.state == "COMPLETED" and record.gpus == 2 and record.benchmark == "gsm8k"
    assert 1.0 < record.wall_s < 30 and record.gpu_hours == pytest.approx(2 * record.wall_s / 3600)
    assert record.tasks == ["eval-results/gsm8k/output.jsonl"]
    status = subprocess.run([sys.executable, str(repo / "pipeline" / "status.py"), str(out)], capture_output=True,
                            text=True, timeout=60, env=env_with_repo, check=False)  # fmt: skip
    assert "gsm8k/output.jsonl: 4/4 items" in status.stdout
    # submit.sh reruns the chain by hand, keeping afterok: "skipped" must not run after "fails" fails.
    again = subprocess.run(["bash", str(out / "jobs" / "submit.sh")], capture_output=True, text=True, timeout=60,
                           env=env_with_repo, check=False)  # fmt: skip
    assert again.returncode == 1
    assert "fails: failed" in again.stdout and "skipped: not run, fails did not complete" in again.stdout
    progress = json.loads((output.parent / "output.jsonl.progress.json").read_text())
    assert (progress["done"], progress["total"], progress["generated"]) == (4, 4, 3)
