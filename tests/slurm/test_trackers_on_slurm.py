"""On the real single-node Slurm: the launch plan comes first, and the summary job, run by Slurm, logs the run to
MLflow (SQLite store) and W&B (offline) from the job's environment."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nemo_pipeline.datasets import load_items
from tests.fakes.openai_server import Script, ScriptedServer
from tests.trackers.offline import offline_tracker_env
from tests.trackers.test_trackers_eval import _expected_metrics, _wandb_runs


@pytest.mark.timeout(600)
def test_the_summary_job_on_slurm_logs_to_mlflow_and_wandb(slurm, tmp_path, repo, env_with_repo):
    from mlflow import MlflowClient

    env = offline_tracker_env(tmp_path, env_with_repo)
    items = load_items("gsm8k")[:3]
    answers = {i["problem"][:60]: f"The answer is {i['expected_answer']}.\n#### {i['expected_answer']}" for i in items}
    del answers[items[2]["problem"][:60]]  # two of three right
    out = tmp_path / "run"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with ScriptedServer(Script(answers=answers)) as server:
        done = subprocess.run(
            [sys.executable, str(repo / "pipeline" / "eval.py"), "--cluster", "slurm", "--server_type", "openai",
             "--server_address", server.url, "--model", "scripted", "--benchmarks", "gsm8k:0", "--output_dir",
             str(out), "++max_samples=3", f"++export.mlflow={uri}", "++export.wandb=onslurm", "--wait"],
            capture_output=True, text=True, timeout=540, env=env, cwd=repo, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.startswith("plan: 4 job(s) on slurm (jobs side by side where their dependencies allow)\n")
    assert "submitted summarize: job" in done.stdout
    expected = _expected_metrics(out)
    assert expected["gsm8k/all/accuracy"] == pytest.approx(200 / 3)
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("nemo-pipeline")
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.run_name == "scripted" and run.data.metrics["gsm8k/all/accuracy"] == expected["gsm8k/all/accuracy"]
    assert run.data.params["cluster"] == "slurm"
    assert _wandb_runs(out)["scripted"]["metrics"] == expected
    assert json.loads((out / "export.json").read_text())["export"][-2:] == ["--wandb", "onslurm"]
