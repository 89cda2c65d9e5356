"""Reruns on the real single-node Slurm never report stale numbers: a larger selection generates only what is
missing and the metrics cover all of it; a smaller one reports only its own items; a changed judge judges again;
an unchanged command submits nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.jsonl import read_jsonl
from tests.fakes.openai_server import Script, ScriptedServer


def _eval(repo: Path, env: dict[str, str], out: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [
        sys.executable, str(repo / "pipeline" / "eval.py"), "--cluster", "slurm", "--output_dir", str(out),
        "--server_type", "openai", "--server_address", url, "--wait", *extra,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=400, env=env, cwd=repo, check=False)


def _metrics(out: Path, bench: str) -> dict[str, float]:
    return json.loads((out / "eval-results" / bench / "metrics.json").read_text())["metrics"]["all"]


@pytest.mark.timeout(900)
def test_a_larger_then_smaller_selection_reports_exactly_its_own_items(slurm, tmp_path, repo, env_with_repo):
    out = tmp_path / "run"
    script = Script(default="The answer is 1.")
    with ScriptedServer(script) as server:
        first = _eval(repo, env_with_repo, out, server.url, "--benchmarks", "gsm8k:0", "++max_samples=5")
        assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
        assert len(script.requests) == 5 and _metrics(out, "gsm8k")["num_entries"] == 5

        larger = _eval(repo, env_with_repo, out, server.url, "--benchmarks", "gsm8k:0", "++max_samples=12")
        assert larger.returncode == 0, larger.stdout[-2000:] + larger.stderr[-2000:]
        assert "submitted generate-gsm8k" in larger.stdout
        assert len(script.requests) == 12  # only the 7 missing items were asked
        records = read_jsonl(out / "eval-results" / "gsm8k" / "output.jsonl")
        assert len(records) == 12 and len({r["id"] for r in records}) == 12
        assert _metrics(out, "gsm8k")["num_entries"] == 12

        smaller = _eval(repo, env_with_repo, out, server.url, "--benchmarks", "gsm8k:0", "++max_samples=5")
        assert smaller.returncode == 0, smaller.stdout[-2000:] + smaller.stderr[-2000:]
        assert len(script.requests) == 12  # nothing asked again
        assert _metrics(out, "gsm8k")["num_entries"] == 5  # the 7 extra items are kept but not counted

        unchanged = _eval(repo, env_with_repo, out, server.url, "--benchmarks", "gsm8k:0", "++max_samples=5")
        assert unchanged.returncode == 0, unchanged.stderr[-2000:]
        assert "nothing to do" in unchanged.stdout and "submitted" not in unchanged.stdout
        assert len(script.requests) == 12


@pytest.mark.timeout(900)
def test_fewer_seeds_after_more_report_only_the_requested_seeds(slurm, tmp_path, repo, env_with_repo):
    out = tmp_path / "run"
    script = Script(default="The answer is 2.")
    with ScriptedServer(script) as server:
        many = _eval(repo, env_with_repo, out, server.url, "--benchmarks", "gsm8k:3", "++max_samples=2")
        assert many.returncode == 0, many.stdout[-2000:] + many.stderr[-2000:]
        assert json.loads((out / "eval-results" / "gsm8k" / "metrics.json").read_text())["num_seeds"] == 3
        few = _eval(repo, env_with_repo, out, server.url, "--benchmarks", "gsm8k:2", "++max_samples=2")
        assert few.returncode == 0, few.stdout[-2000:] + few.stderr[-2000:]
        assert "submitted generate" not in few.stdout  # both seeds were complete
        assert json.loads((out / "eval-results" / "gsm8k" / "metrics.json").read_text())["num_seeds"] == 2
        assert len(script.requests) == 6


@pytest.mark.timeout(900)
def test_a_changed_judge_judges_again_on_slurm(slurm, tmp_path, repo, env_with_repo):
    out = tmp_path / "run"
    model = Script(default="Paris is the capital of France.")
    judge_a = Script(default="Fine. Rating: [[8]]")
    judge_b = Script(default="Weak. Rating: [[2]]")
    with ScriptedServer(model) as model_server, ScriptedServer(judge_a) as a, ScriptedServer(judge_b) as b:
        common = ("--benchmarks", "mt-bench:0", "++max_samples=1", "++judge.server.server_type=openai")
        first = _eval(repo, env_with_repo, out, model_server.url, *common, f"++judge.server.address={a.url}",
                      "++judge.server.model=judge-a")  # fmt: skip
        assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
        assert _metrics(out, "mt-bench")["mt_bench_score"] == pytest.approx(8.0)
        second = _eval(repo, env_with_repo, out, model_server.url, *common, f"++judge.server.address={b.url}",
                       "++judge.server.model=judge-b")  # fmt: skip
        assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
        assert "submitted evaluate-mt-bench" in second.stdout and "submitted generate" not in second.stdout
        assert len(judge_b.requests) == 2  # both turns judged by the new judge
        assert _metrics(out, "mt-bench")["mt_bench_score"] == pytest.approx(2.0)
        assert len(model.requests) == 2  # the model was not asked again


@pytest.mark.timeout(300)
def test_dry_run_contacts_no_server_and_writes_a_submit_script(slurm, tmp_path, repo, env_with_repo):
    out = tmp_path / "run"
    unreachable = "http://10.255.255.1:9/v1"  # nothing answers there; a dry run must not care
    done = subprocess.run(
        [sys.executable, str(repo / "pipeline" / "eval.py"), "--cluster", "slurm", "--output_dir", str(out),
         "--server_type", "openai", "--server_address", unreachable, "--benchmarks", "gsm8k:2",
         "++num_jobs=2", "--dry_run"],
        capture_output=True, text=True, timeout=120, env=env_with_repo, cwd=repo, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "evaluate-gsm8k" in done.stdout and "afterok: generate-gsm8k-rs0, generate-gsm8k-rs1" in done.stdout
    submit = out / "jobs" / "submit.sh"
    text = submit.read_text()
    assert text.count("$(sbatch --parsable") == 5  # two generate, evaluate, metrics, summarize
    assert "--dependency=afterok:${id_0}:${id_1}" in text
    # The submit script really resubmits the chain with its dependencies (held, then cancelled: nothing runs).
    held = subprocess.run(
        ["bash", str(submit)], capture_output=True, text=True, timeout=120, check=False,
        env={**env_with_repo, "SBATCH_HOLD": "1"},
    )  # fmt: skip
    assert held.returncode == 0, held.stderr
    ids = [line.rsplit(" ", 1)[1] for line in held.stdout.splitlines() if ": job " in line]
    assert len(ids) == 5
    shown = subprocess.run(["scontrol", "show", "job", ids[2]], capture_output=True, text=True, timeout=30, check=False)
    assert f"Dependency=afterok:{ids[0]}" in shown.stdout.replace("(unfulfilled)", "")
    subprocess.run(["scancel", *ids], timeout=30, check=False)


@pytest.mark.timeout(600)
def test_an_address_only_the_cluster_must_reach_is_checked_inside_the_job(slurm, tmp_path, repo, env_with_repo):
    out = tmp_path / "run"
    dead = "http://127.0.0.1:9/v1"  # nothing listens there, here or on the node
    done = subprocess.run(
        [sys.executable, str(repo / "pipeline" / "eval.py"), "--cluster", "slurm", "--output_dir", str(out),
         "--server_type", "openai", "--server_address", dead, "--benchmarks", "gsm8k:0", "++max_samples=2",
         "++server.start_timeout_s=5", "--wait"],
        capture_output=True, text=True, timeout=500, env=env_with_repo, cwd=repo, check=False,
    )  # fmt: skip
    assert f"warning: server address {dead} is unreachable" in done.stderr  # a warning here, not a refusal
    assert "submitted generate-gsm8k" in done.stdout
    assert done.returncode != 0
    assert "generate-gsm8k (FAILED)" in done.stderr
    assert f"server address {dead} is unreachable" in done.stderr.split("generate-gsm8k (FAILED)", 1)[1]
