"""The example campaign (conf/models/example.yaml: the embedded llama.cpp model with two prompts) on the real
single-node Slurm: every model's jobs submitted at once, the comparison after all of them."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.e2e.test_campaign_e2e import MODELS, _argv, _check_comparison


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_campaign_on_slurm_submits_every_model_at_once(slurm, embedded_model, tmp_path, repo, env_with_repo):
    out = tmp_path / "campaign"
    done = subprocess.run(_argv(repo, out, "--cluster", "slurm", "--wait"), cwd=repo, env=env_with_repo,
                          capture_output=True, text=True, timeout=1100, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    submitted = [line.split()[1].rstrip(":") for line in done.stdout.splitlines() if line.startswith("submitted ")]
    assert "compare" in submitted and {f"{m}-generate-gsm8k" for m in MODELS} <= set(submitted)
    _check_comparison(out)
    for model in MODELS:  # each model's folder holds its own scripts and job records
        assert (out / model / "jobs" / "generate-gsm8k.sbatch").exists()
        record = json.loads((out / model / "logs" / "generate-gsm8k" / "job.json").read_text())
        assert record["state"] == "COMPLETED" and record["wall_s"] > 0
