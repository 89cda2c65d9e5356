"""A log-likelihood benchmark through pipeline/eval.py on the real single-node Slurm, against a scripted server
with known prompt log-probabilities (scripted: the Slurm jobs run the real stages; only the model is fake)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nemo_pipeline.jsonl import read_jsonl
from tests.loglik.scripted_logprobs import LogprobScript, LogprobServer

ITEMS = 4


@pytest.mark.timeout(600)
def test_mmlu_ll_on_slurm_reports_acc_per_subject(slurm, tmp_path, repo, env_with_repo):
    out = tmp_path / "out"
    # " A" is the likeliest continuation: every item predicts A, so acc is the share of items whose answer is A.
    script = LogprobScript(table={" A": -0.5, " B": -2.0, " C": -2.0, " D": -2.0})
    with LogprobServer(script) as server:
        argv = [
            sys.executable, str(repo / "pipeline" / "eval.py"), "--cluster", "conf/cluster/slurm-local.yaml",
            "--benchmarks", "mmlu-ll:0", "--server_type", "openai", "--server_address", server.url,
            "--output_dir", str(out), f"++max_samples={ITEMS}", "--wait",
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=540, env=env_with_repo, cwd=repo)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert list((out / "jobs").glob("generate-mmlu-ll*.sbatch"))
    assert sum(bool(r.get("echo")) for r in script.requests) == ITEMS * 4  # one echo per choice
    assert sum(not r.get("echo") for r in script.requests) == ITEMS  # one token count per item's context
    records = read_jsonl(out / "eval-results" / "mmlu-ll" / "output.jsonl")
    assert [r["predicted_answer"] for r in records] == ["A"] * ITEMS
    truth = sum(r["loglik"]["gold"] == 0 for r in records) / ITEMS
    metrics = json.loads((out / "eval-results" / "mmlu-ll" / "metrics.json").read_text())["metrics"]
    assert metrics["all"]["acc"] == pytest.approx(truth)
    assert set(metrics) == {"all"} | {r["subset"] for r in records}
