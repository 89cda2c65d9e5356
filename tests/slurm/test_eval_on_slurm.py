"""pipeline/eval.py --cluster slurm on the real single-node Slurm: the README demo on the embedded model to a
finished summary, and a failing generate job whose dependents are cancelled and reported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nemo_pipeline.jsonl import read_jsonl
from tests.fakes.openai_server import Script, ScriptedServer

# The single-node cluster's own config: the same Slurm, polled every 0.2-2 s instead of 1-30 s.
FAST_CLUSTER = "conf/cluster/slurm-local.yaml"


def _run(repo, env, *args, timeout):
    argv = [sys.executable, str(repo / "pipeline" / "eval.py"), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=repo, check=False)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_readme_demo_on_slurm_with_the_embedded_model(slurm, embedded_model, tmp_path, repo, env_with_repo):
    out = tmp_path / "run1"
    done = _run(
        repo, env_with_repo, "--cluster", "slurm", "--benchmarks", "gsm8k:0", "--output_dir", str(out),
        "++max_samples=10", "--wait", timeout=840,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    scripts = sorted(p.name for p in (out / "jobs").glob("*.sbatch"))
    assert scripts == ["evaluate-gsm8k.sbatch", "generate-gsm8k.sbatch", "metrics-gsm8k.sbatch", "summarize.sbatch"]
    generate_script = (out / "jobs" / "generate-gsm8k.sbatch").read_text()
    assert "--component server -- srun --overlap" in generate_script  # the server is a component of its own
    assert "--dependency" not in generate_script
    records = read_jsonl(out / "eval-results" / "gsm8k" / "output.jsonl")
    assert len(records) == 10 and len({r["id"] for r in records}) == 10
    assert all(isinstance(r["is_correct"], bool) for r in records)
    metrics = json.loads((out / "eval-results" / "gsm8k" / "metrics.json").read_text())["metrics"]["all"]
    assert metrics["num_entries"] == 10
    summary = json.loads((out / "summary.json").read_text())
    assert "gsm8k" in json.dumps(summary)
    assert (out / "logs" / "generate-gsm8k" / "server.log").stat().st_size > 0
    # Rerunning the same command submits nothing: every step is complete for these settings.
    again = _run(
        repo, env_with_repo, "--cluster", "slurm", "--benchmarks", "gsm8k:0", "--output_dir", str(out),
        "++max_samples=10", "--wait", timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stdout and "submitted" not in again.stdout


@pytest.mark.timeout(600)
def test_failed_generate_job_cancels_its_dependents_and_is_reported(slurm, tmp_path, repo, env_with_repo):
    out = tmp_path / "run2"
    # The server is up (health checks pass) but refuses every generation request: the generate job fails.
    with ScriptedServer(Script(fail_first=10**9, fail_status=400)) as server:
        done = _run(
            repo, env_with_repo, "--cluster", "slurm", "--benchmarks", "gsm8k:0", "--output_dir", str(out),
            "--server_type", "openai", "--server_address", server.url, "++max_samples=3", "--wait", timeout=540,
        )  # fmt: skip
    assert done.returncode == 2
    assert "generate-gsm8k (FAILED)" in done.stderr
    assert "evaluate-gsm8k (CANCELLED)" in done.stderr
    assert "metrics-gsm8k (CANCELLED)" in done.stderr
    assert "HTTP 400" in done.stderr  # the failing job's log tail is shown
    status = subprocess.run(
        [sys.executable, str(repo / "pipeline" / "status.py"), str(out)],
        capture_output=True, text=True, timeout=60, env=env_with_repo, check=False,
    )  # fmt: skip
    assert status.returncode == 1
    assert "FAILED" in status.stdout and "CANCELLED" in status.stdout
    assert "logs/generate-gsm8k/slurm-" in status.stdout
    # summarize runs afterany and says what is missing.
    summary = json.loads((out / "summary.json").read_text())
    assert "gsm8k" in json.dumps(summary)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_mt_bench_on_slurm_with_the_judge_server_as_a_component(slurm, embedded_model, tmp_path, repo, env_with_repo):
    out = tmp_path / "run3"
    # The model under test is scripted; the judge is the embedded llama.cpp model, started by the evaluate job as a
    # component of its own.
    with ScriptedServer(Script(default="Paris is the capital of France.")) as server:
        done = _run(
            repo, env_with_repo, "--cluster", str(repo / FAST_CLUSTER), "--benchmarks", "mt-bench:0",
            "--output_dir", str(out),
            "--server_type", "openai", "--server_address", server.url, "++max_samples=1",
            "++judge.tokens_to_generate=16", "--wait", timeout=540,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    script = (out / "jobs" / "evaluate-mt-bench.sbatch").read_text()
    assert "--component judge-server -- srun --overlap" in script
    (record,) = read_jsonl(out / "eval-results" / "mt-bench" / "output.jsonl")
    assert len(record["generations"]) == 2 and len(record["judge_generation"]) == 2
    assert all(isinstance(text, str) for text in record["judge_generation"])
    assert (out / "logs" / "evaluate-mt-bench" / "judge-server.log").stat().st_size > 0
    # Whatever the small judge said, the metrics are the mean of the ratings parsed from it.
    metrics = json.loads((out / "eval-results" / "mt-bench" / "metrics.json").read_text())["metrics"]["all"]
    rated = [record["scores"][k] for k in ("mt_bench_turn1", "mt_bench_turn2") if k in record["scores"]]
    assert metrics["mt_bench_turns_dropped"] == 2 - len(rated)  # a turn without a parseable rating is dropped alone
    if rated:
        assert metrics["mt_bench_score"] == pytest.approx(sum(rated) / len(rated))
    else:
        assert "mt_bench_score" not in metrics


@pytest.mark.timeout(600)
def test_mt_bench_on_slurm_with_a_scripted_judge_reports_its_ratings(slurm, tmp_path, repo, env_with_repo):
    out = tmp_path / "run4"
    items = 2
    model = Script(default="Paris is the capital of France.")
    # The judge rates every first turn 8 and every follow-up 3 (FastChat's turn-2 prompt holds the conversation).
    judge = Script(answers={"Assistant A's Conversation": "Too short. Rating: [[3]]"}, default="Correct. [[8]]")
    with ScriptedServer(model) as model_server, ScriptedServer(judge) as judge_server:
        done = _run(
            repo, env_with_repo, "--cluster", str(repo / FAST_CLUSTER), "--benchmarks", "mt-bench:0",
            "--output_dir", str(out),
            "--server_type", "openai", "--server_address", model_server.url, f"++max_samples={items}",
            "++judge.server.server_type=openai", f"++judge.server.address={judge_server.url}", "--wait", timeout=540,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (len(model.requests), len(judge.requests)) == (2 * items, 2 * items)  # two turns, each judged once
    records = read_jsonl(out / "eval-results" / "mt-bench" / "output.jsonl")
    assert len(records) == items and len({r["id"] for r in records}) == items
    assert all(r["scores"]["mt_bench_turn1"] == 8.0 and r["scores"]["mt_bench_turn2"] == 3.0 for r in records)
    metrics = json.loads((out / "eval-results" / "mt-bench" / "metrics.json").read_text())["metrics"]["all"]
    assert metrics["num_entries"] == items
    assert (metrics["mt_bench_turn1"], metrics["mt_bench_turn2"]) == (pytest.approx(8.0), pytest.approx(3.0))
    assert metrics["mt_bench_score"] == pytest.approx(5.5)
    summary = json.loads((out / "summary.json").read_text())
    assert "mt-bench" in json.dumps(summary)
