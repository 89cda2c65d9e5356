"""vLLM as the pipeline's jobs start it: on the single-node Slurm, the generate job starts vLLM on the embedded
model as a component of its own (the job prepares the model folder, then becomes vLLM) for a generated benchmark,
a code benchmark graded in its job's sandbox, MT-Bench with a judge served by vLLM, and a log-likelihood benchmark;
and a campaign of two models on vLLM (the tiny models with and without a BOS token), one server start per model,
one comparison."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from nemo_pipeline.jsonl import read_jsonl
from tests.slurm.conftest import slurm  # noqa: F401  (the single-node Slurm, started by the project's scripts)
from tests.vllm.conftest import TEST_SERVER_ARGS, EmbeddedVllm, benchmark_metrics, require_vllm, run_eval

ITEMS = 2


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_eval_on_slurm_serves_the_embedded_model_on_vllm(
    slurm: None,  # noqa: F811
    embedded_vllm: EmbeddedVllm,
    tmp_path: Path,
    env_with_repo: dict[str, str],
) -> None:
    out = tmp_path / "run"
    done = run_eval(
        out, env_with_repo, "--cluster", "slurm", "--server_type", "vllm",
        "--benchmarks", "gsm8k:0,humaneval:0,mt-bench:0,mmlu-ll:0", f"++max_samples={ITEMS}",
        "++inference.tokens_to_generate=32", "++server.start_timeout_s=1200",
        "++judge.server.server_type=vllm", f"++judge.server.address={embedded_vllm.base_url}",
        "++judge.tokens_to_generate=16", "--wait",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (script,) = [p.read_text() for p in (out / "jobs").glob("generate*.sbatch")]
    # The server is a component of the job: the embedded model's preparation, then vLLM's OpenAI server.
    assert "nemo_pipeline.inference.servers._embedded_vllm" in script
    assert "vllm.entrypoints.openai.api_server" in script and "--enforce-eager" in script
    (log,) = list((out / "logs").glob("generate*/server.log"))
    assert "Starting vLLM" in log.read_text(errors="replace")
    for bench in ("gsm8k", "humaneval", "mt-bench", "mmlu-ll"):
        assert benchmark_metrics(out, bench)["num_entries"] == ITEMS, bench
    assert all(r["generation"] for r in read_jsonl(out / "eval-results" / "gsm8k" / "output.jsonl"))
    # HumanEval's programs ran in the sandbox its evaluate job started.
    assert all(
        isinstance(r["is_correct"], bool) for r in read_jsonl(out / "eval-results" / "humaneval" / "output.jsonl")
    )
    assert "--component sandbox" in (out / "jobs" / "evaluate-humaneval.sbatch").read_text()
    assert all(len(r["judge_generation"]) == 2 for r in read_jsonl(out / "eval-results" / "mt-bench" / "output.jsonl"))
    for record in read_jsonl(out / "eval-results" / "mmlu-ll" / "output.jsonl"):
        assert all(math.isfinite(s) and s < 0 for s in record["loglikelihoods"])
        assert record["continuation_tokens"] == [1, 1, 1, 1]  # " A" .. " D": one token each for Gemma


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_campaign_of_two_models_on_vllm(
    tiny_models: dict[str, Path], tmp_path: Path, env_with_repo: dict[str, str]
) -> None:
    require_vllm()
    models = tmp_path / "models.yaml"
    args = ", ".join(json.dumps(a) for a in TEST_SERVER_ARGS)
    models.write_text(
        "".join(
            f"- name: tiny-{kind}\n  server_type: vllm\n  model: {path}\n  server_args: [{args}]\n"
            for kind, path in sorted(tiny_models.items())
        )
    )
    out = tmp_path / "campaign"
    done = run_eval(
        out, env_with_repo, "--models", str(models), "--benchmarks", "gsm8k:0", f"++max_samples={ITEMS}",
        "++inference.tokens_to_generate=8", "++server.start_timeout_s=900",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for kind in tiny_models:
        run = out / f"tiny-{kind}"
        assert benchmark_metrics(run, "gsm8k")["num_entries"] == ITEMS, kind
        (log,) = list((run / "logs").rglob("server*.log"))
        text = log.read_text(errors="replace")
        assert text.count("Starting vLLM") == 1 and str(tiny_models[kind]) in text, kind
    summary = json.loads((out / "summary.json").read_text())
    assert [run["name"] for run in summary["runs"]] == ["tiny-bos", "tiny-no-bos"]
