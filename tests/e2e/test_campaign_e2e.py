"""The example campaign (conf/models/example.yaml: the embedded llama.cpp model with two prompts) for real: locally
with one server start per model, killed midway and resumed with nothing lost or doubled, and on the real Slurm;
each to one comparison whose numbers equal the per-model metrics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nemo_pipeline.jsonl import read_jsonl

MODELS = ("fewshot", "zeroshot")
ITEMS = 3


def _argv(repo: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable, str(repo / "pipeline" / "eval.py"), "--models", str(repo / "conf" / "models" / "example.yaml"),
        "--benchmarks", "gsm8k:0", "--output_dir", str(out), f"++max_samples={ITEMS}",
        "++inference.tokens_to_generate=48", *extra,
    ]  # fmt: skip


def _check_comparison(out: Path) -> None:
    summary = json.loads((out / "summary.json").read_text())
    assert [run["name"] for run in summary["runs"]] == list(MODELS)
    for run in summary["runs"]:
        metrics = json.loads((out / run["name"] / "eval-results" / "gsm8k" / "metrics.json").read_text())
        assert run["benchmarks"]["gsm8k"]["metrics"]["all"] == metrics["metrics"]["all"]
        records = read_jsonl(out / run["name"] / "eval-results" / "gsm8k" / "output.jsonl")
        assert len(records) == ITEMS and len({r["id"] for r in records}) == ITEMS
        assert metrics["metrics"]["all"]["num_entries"] == ITEMS
    assert summary["baseline"] == "fewshot"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_local_campaign_starts_one_server_per_model_and_resumes_after_a_kill(
    embedded_model, tmp_path, repo, env_with_repo
):
    out = tmp_path / "campaign"
    # Kill the whole run (SIGKILL) once the first model has written an answer, then rerun the same command.
    proc = subprocess.Popen(_argv(repo, out), cwd=repo, env=env_with_repo, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    first = out / "fewshot" / "eval-results" / "gsm8k" / "output.jsonl"
    deadline = time.monotonic() + 300
    while not (first.exists() and first.read_text().count("\n") >= 1):
        assert proc.poll() is None, "the campaign ended before it could be killed"
        assert time.monotonic() < deadline, "no answer written within 300 s"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    kept = {r["id"]: r["generation"] for r in read_jsonl(first)}
    complete_before = (first.parent / "output.jsonl.done").exists()
    assert 1 <= len(kept) <= ITEMS
    done = subprocess.run(_argv(repo, out), cwd=repo, env=env_with_repo, capture_output=True, text=True,
                          timeout=800, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = {r["id"]: r["generation"] for r in read_jsonl(first)}
    assert all(records[i] == text for i, text in kept.items())  # answers written before the kill were kept
    _check_comparison(out)
    # One server start per model in the rerun (the killed run started one for the first model only).
    logs = sorted(out.glob("*/logs/*/server-llamacpp-*.log"))
    per_model = {m: [p for p in logs if p.parts[-4] == m] for m in MODELS}
    assert len(per_model["zeroshot"]) == 1, logs
    assert len(per_model["fewshot"]) <= 2, logs  # killed run + rerun
    assert "[zeroshot-generate-gsm8k] running" in done.stdout
    # The first model's generation runs again exactly when the kill came before it recorded itself complete.
    assert ("[fewshot-generate-gsm8k] running" in done.stdout) == (not complete_before)
