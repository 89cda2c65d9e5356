"""pipeline/eval.py with `--server_type vllm` on a machine without a GPU: the server type starts vLLM's CPU build with
its own CPU settings (KV cache size, eager mode), generation runs through it, and the run is graded and summarized.
The tiny model's answers are noise: the test checks the path, not the numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.jsonl import read_jsonl
from tests.conftest import REPO
from tests.vllm.conftest import require_vllm

ITEMS = 4


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_eval_gsm8k_on_vllm_end_to_end(tiny_models: dict[str, Path], tmp_path: Path, env_with_repo) -> None:
    require_vllm()
    out = tmp_path / "out"
    argv = [
        sys.executable, str(REPO / "pipeline" / "eval.py"), "--benchmarks", "gsm8k:0", "--server_type", "vllm",
        "--model", str(tiny_models["bos"]), "--output_dir", str(out), f"++max_samples={ITEMS}",
        "++inference.tokens_to_generate=16", "++server.start_timeout_s=600",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=1100, env=env_with_repo, cwd=REPO, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = read_jsonl(out / "eval-results" / "gsm8k" / "output.jsonl")
    assert len(records) == ITEMS and all(r["num_generated_tokens"] > 0 for r in records)
    metrics = json.loads((out / "eval-results" / "gsm8k" / "metrics.json").read_text())
    assert metrics["metrics"]["all"]["num_entries"] == ITEMS
    assert (out / "summary.json").is_file()
    # The real server type ran: its log shows the CPU settings it added.
    (log,) = list((out / "logs").rglob("server-vllm-*.log"))
    text = log.read_text(errors="replace")
    assert "enforce_eager=True" in text and "Explicitly set" in text, text[-2000:]
