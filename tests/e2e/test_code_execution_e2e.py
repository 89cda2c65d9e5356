"""Code execution during generation for real: the embedded llama.cpp model, prompted with worked solutions that
use python, writes its own blocks; generation pauses at each one, the real sandbox runs it, and the model goes on
after the sandbox's output."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nemo_pipeline.jsonl import read_jsonl

ITEMS = 4


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_embedded_model_runs_its_code_in_the_sandbox(tmp_path, repo, env_with_repo):
    out = tmp_path / "out"
    argv = [
        sys.executable, str(repo / "pipeline" / "eval.py"), "--benchmarks", "gsm8k:0", "--output_dir", str(out),
        f"++max_samples={ITEMS}", "++code_execution=true", "++prompt_config=generic/math-code-fewshot",
        "++inference.tokens_to_generate=200", "++server.parallel_requests=2", "++max_concurrent_requests=2",
    ]  # fmt: skip
    done = subprocess.run(argv, env=env_with_repo, cwd=repo, capture_output=True, text=True, timeout=560, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = read_jsonl(out / "eval-results" / "gsm8k" / "output.jsonl")
    assert len(records) == ITEMS
    executions = [e for r in records for e in r["code_executions"]]
    assert executions, "the model wrote no python block on any item"
    for record in records:
        for execution in record["code_executions"]:
            assert execution["process_status"] in {"completed", "error", "timeout"}
            # What follows the block in the transcript is what the sandbox printed, not text the model wrote.
            shown = execution["stdout"] + execution["stderr"]
            block = f"```python\n{execution['code']}"
            assert block in record["generation"]
            after = record["generation"].split(block, 1)[1]
            assert after.startswith("```\n```output\n" + shown.rstrip("\n")), after[:200]
        assert isinstance(record["is_correct"], bool)
    assert list((out / "logs" / "generate-gsm8k").glob("sandbox*.log"))
    metrics = json.loads((out / "eval-results" / "gsm8k" / "metrics.json").read_text())["metrics"]["all"]
    assert metrics["num_entries"] == ITEMS
