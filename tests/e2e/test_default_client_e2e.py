"""The generation client with default settings against the real embedded llama-server: the adaptive limit opens at
the server's slots (no burst into a 4-slot CPU server), uses them, and finishes without a retry."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nemo_pipeline.jsonl import read_jsonl

SLOTS = 2


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_default_concurrency_on_the_embedded_llama_server(tmp_path, repo, env_with_repo, tiny_gsm8k):
    out = tmp_path / "out.jsonl"
    argv = [
        sys.executable, str(repo / "pipeline" / "generate.py"), f"++input_file={tiny_gsm8k}", f"++output_file={out}",
        "++prompt_config=generic/math", "++server.server_type=llamacpp", f"++server.parallel_requests={SLOTS}",
        "++inference.tokens_to_generate=24", "++progress=false",
    ]  # fmt: skip
    done = subprocess.run(argv, cwd=repo, env=env_with_repo, capture_output=True, text=True, timeout=540, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert sorted(r["id"] for r in read_jsonl(out)) == [f"item-{i}" for i in range(1, 6)]
    report = json.loads(out.with_name(out.name + ".client.json").read_text())
    assert report["mode"] == "adaptive"
    assert report["items_written"] == 5 and report["items_failed"] == 0
    assert report["retried"] == 0, report["retries"]  # no timeout, no refusal: the server was not flooded
    assert SLOTS <= report["peak_in_flight"] <= 3 * SLOTS  # it used the slots and queued little behind them
    assert "in-flight limit settled at" in done.stderr  # the job log says where it settled
