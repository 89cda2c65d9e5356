"""The launch plan eval.py shows before anything starts: on the local backend against a scripted server (a dry run,
then a real run whose summary puts the estimate beside the actual figures, then a rerun estimated from the rates the
first run measured), and as a dry run on the Slurm backend (jobs side by side, GPU-hours and cost)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.datasets import load_items
from nemo_pipeline.inference.servers import SERVER_TYPES
from nemo_pipeline.jobs.estimate import GUESS_EVALUATE_S_PER_ITEM, GUESS_S_PER_JOB
from nemo_pipeline.report import fmt_duration
from tests.fakes.openai_server import Script, ScriptedServer


def _eval(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(repo / "pipeline" / "eval.py"), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, cwd=repo, check=False)


def _plan_lines(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    assert lines and lines[0].startswith("plan: "), stdout[:2000]
    end = next((i for i, line in enumerate(lines) if not (line.startswith(("plan: ", "model", "  ", "total: ")))), None)
    return lines[:end]


@pytest.mark.timeout(300)
def test_plan_dry_run_then_run_then_measured_rerun(tmp_path, repo, env_with_repo):
    items = load_items("gsm8k")[:8]
    answers = {item["problem"][:60]: f"The answer is {item['expected_answer']}." for item in items}
    out = tmp_path / "runs" / "first"
    with ScriptedServer(Script(answers=answers, delay_s=0.05)) as server:
        common = ["--server_type", "openai", "--server_address", server.url, "--model", "scripted",
                  "--benchmarks", "gsm8k:2", "--output_dir", str(out)]  # fmt: skip

        dry = _eval(repo, env_with_repo, *common, "++max_samples=6", "--dry_run")
        assert dry.returncode == 0, dry.stderr[-2000:]
        assert not server.script.requests  # a dry run contacts nothing
        plan = _plan_lines(dry.stdout)
        assert plan[0] == "plan: 4 job(s) on local (one job after another)"
        assert plan[1] == f"model: served at {server.url} as scripted; server type openai; 0 GPU(s) per server job"
        assert plan[2] == "  gsm8k: 6 items x 2 seeds = 12 generations, 12 still to make"
        assert plan[3] == "  jobs (4): generate, evaluate-gsm8k, metrics-gsm8k, summarize"
        guess = SERVER_TYPES.get("openai").guess_s_per_item
        seconds = 12 * guess + 12 * GUESS_EVALUATE_S_PER_ITEM + 2 * GUESS_S_PER_JOB
        assert plan[4] == (
            f"  estimate (a guess): elapsed about {fmt_duration(seconds)} ({fmt_duration(seconds)} of jobs), "
            "0.000 GPU-hours, no cost (set cost_per_gpu_hour in the cluster config)"
        )
        assert plan[5].startswith(f"  rates: no earlier run of scripted on openai under {out.parent}: ")
        assert not (out / "plan.json").exists()  # only a real run records its estimate

        run = _eval(repo, env_with_repo, *common, "++max_samples=6")
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        assert _plan_lines(run.stdout)[:4] == plan[:4]  # the first lines of the run are the same plan
        assert len(server.script.requests) == 12
        recorded = json.loads((out / "plan.json").read_text())
        assert set(recorded["jobs"]) == {"generate", "evaluate-gsm8k", "metrics-gsm8k", "summarize"}
        assert recorded["jobs"]["generate"] == pytest.approx(12 * guess) and recorded["guess"] is True

        # The summary made after the jobs ended puts the estimate beside the actual figures of the same jobs.
        summarized = subprocess.run(
            [sys.executable, str(repo / "pipeline" / "summarize_results.py"), str(out)],
            capture_output=True, text=True, timeout=120, env=env_with_repo, cwd=repo, check=False,
        )  # fmt: skip
        assert summarized.returncode == 0, summarized.stderr[-2000:]
        usage = json.loads((out / "summary.json").read_text())["runs"][0]["usage"]["plan"]
        records = [json.loads((out / "logs" / job / "job.json").read_text()) for job in recorded["jobs"]]
        assert usage["estimated"]["jobs"] == 4 and usage["estimated"]["wall_s"] == pytest.approx(seconds)
        assert usage["actual"]["jobs"] == 4
        assert usage["actual"]["wall_s"] == pytest.approx(sum(r["wall_s"] for r in records))
        markdown = (out / "summary.md").read_text()
        assert "planned: estimate" in markdown and "4 of 4 planned jobs ended" in markdown

        # A rerun asking for more items under the same output root is estimated from the rates the run measured,
        # and only the missing generations are counted.
        generate = json.loads((out / "logs" / "generate" / "job.json").read_text())
        evaluate = json.loads((out / "logs" / "evaluate-gsm8k" / "job.json").read_text())
        rerun = _eval(repo, env_with_repo, *common, "++max_samples=8", "--dry_run")
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        again = _plan_lines(rerun.stdout)
        assert again[2] == "  gsm8k: 8 items x 2 seeds = 16 generations, 4 still to make"
        assert again[4].startswith("  estimate (from measured rates): ")
        rate = generate["wall_s"] / 12
        # The estimate adds the other jobs' own times, not the total less generate and evaluate (float sums differ).
        others = [json.loads((out / "logs" / job / "job.json").read_text()) for job in ("metrics-gsm8k", "summarize")]
        assert again[5] == (
            f"  rates: 1 earlier run(s) of scripted on openai under {out.parent}: "
            f"generate {rate:.3g} s/item (measured over 12 items), "
            f"evaluate {evaluate['wall_s'] / 12:.3g} s/item (measured over 12 items), "
            f"other jobs {sum(r['wall_s'] for r in others) / 2:.3g} s each (measured over 2 jobs)"
        )


@pytest.mark.timeout(120)
def test_slurm_dry_run_plan_runs_jobs_side_by_side_with_gpu_hours_and_cost(tmp_path, repo, env_with_repo):
    cluster = tmp_path / "slurm-priced.yaml"
    cluster.write_text((repo / "conf" / "cluster" / "slurm.yaml").read_text() + "cost_per_gpu_hour: 2.5\n")
    out = tmp_path / "out"
    done = _eval(repo, env_with_repo, "--cluster", str(cluster), "--model", "/models/llama", "--server_type", "vllm",
                 "--server_gpus", "8", "--benchmarks", "gsm8k:4,humaneval", "--output_dir", str(out),
                 "++max_samples=100", "--dry_run")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    plan = _plan_lines(done.stdout)
    assert plan[0] == f"plan: 6 job(s) on {cluster} (jobs side by side where their dependencies allow)"
    assert plan[1] == "model: path or name /models/llama; server type vllm; 8 GPU(s) per server job"
    assert plan[2:4] == [
        "  gsm8k: 100 items x 4 seeds = 400 generations, 400 still to make",
        "  humaneval: 100 items x 1 greedy run = 100 generations, 100 still to make",
    ]
    rate = SERVER_TYPES.get("vllm").guess_s_per_item
    generate = 500 * rate
    evaluate = {"gsm8k": 400 * GUESS_EVALUATE_S_PER_ITEM, "humaneval": 100 * GUESS_EVALUATE_S_PER_ITEM}
    jobs = generate + sum(evaluate.values()) + 3 * GUESS_S_PER_JOB
    elapsed = generate + max(evaluate.values()) + 2 * GUESS_S_PER_JOB  # the longest chain of dependencies
    gpu_hours = 8 * generate / 3600
    assert plan[5] == (
        f"  estimate (a guess): elapsed about {fmt_duration(elapsed)} ({fmt_duration(jobs)} of jobs), "
        f"{gpu_hours:.3f} GPU-hours, cost {gpu_hours * 2.5:.2f}"
    )
    assert (out / "jobs" / "generate.sbatch").exists() and not (out / "plan.json").exists()


@pytest.mark.timeout(120)
def test_plan_counts_the_items_per_subset_selection(tmp_path, repo, env_with_repo):
    items = load_items("mmlu")
    per_subset: dict[str, int] = {}
    for item in items:
        per_subset[item["subset"]] = per_subset.get(item["subset"], 0) + 1
    expected = sum(min(2, n) for n in per_subset.values())
    done = _eval(repo, env_with_repo, "--server_type", "openai", "--server_address", "http://127.0.0.1:9/v1",
                 "--benchmarks", "mmlu:3", "--output_dir", str(tmp_path / "out"), "++max_samples_per_subset=2",
                 "--dry_run")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    line = f"  mmlu: {expected} items x 3 seeds = {3 * expected} generations, {3 * expected} still to make"
    assert _plan_lines(done.stdout)[2] == line
