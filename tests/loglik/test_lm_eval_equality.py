"""The same small task through lm-evaluation-harness 0.4.13 itself and through pipeline/eval.py, on the embedded
model served by llama-cpp-python (the `llamacpp-python` server type): the same acc and acc_norm, the same per-item
log-likelihoods and request strings.

lm-eval runs its `gguf` model type with its own piqa task YAML (`include:`d, pointed at local rows); the pipeline
runs tests/fixtures/loglik/tiny-piqa.yaml, the same two items as a file-defined benchmark. Both score against one
server of the project's server type, which evaluates every request from an empty KV cache: each side's numbers come
from the same computation, so they are compared exactly (two servers once disagreed by 5e-3 on one item, on fresh
machines only). Slow, and kept tiny: llama-cpp-python's server sorts the whole 262k-token vocabulary in Python for
every echoed token (about 1-2 s per token here). tests/loglik/test_lm_eval_contexts.py checks every benchmark's
requests against lm-eval without a model.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from nemo_pipeline.config import ServerConfig
from nemo_pipeline.inference._server_context import serving
from nemo_pipeline.jsonl import read_jsonl, write_jsonl_atomic
from nemo_pipeline.loglik import requests_of
from tests.conftest import DEV_INSTALL, REPO, require

TINY = REPO / "tests" / "fixtures" / "loglik" / "tiny-piqa.yaml"
PIQA = REPO / "tests" / "fixtures" / "datasets" / "piqa"
ITEMS = 2


def _lm_eval(base_url: str, task_dir: Path, task: str) -> dict[str, Any]:
    """lm-eval's own evaluator with its gguf model, in a child process and offline; its metrics and samples."""
    code = (
        "import json, sys, lm_eval\n"
        "from lm_eval.tasks import TaskManager\n"
        "out = lm_eval.simple_evaluate(model='gguf', model_args={'base_url': sys.argv[1]}, tasks=[sys.argv[2]],\n"
        "    num_fewshot=0, task_manager=TaskManager(include_path=sys.argv[3]), log_samples=True)\n"
        "samples = [{'doc_id': s['doc_id'], 'arguments': [list(a) for a in s['arguments']],\n"
        "            'lls': [r[0][0] for r in s['resps']]} for s in out['samples'][sys.argv[2]]]\n"
        "print('RESULT ' + json.dumps({'metrics': out['results'][sys.argv[2]], 'samples': samples}))\n"
    )
    env = {**os.environ, "HF_HOME": str(task_dir / "hf"), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    argv = [sys.executable, "-c", code, base_url, task, str(task_dir)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_eval_on_the_embedded_model_matches_lm_eval(tmp_path: Path, repo: Path, env_with_repo) -> None:
    require("llama-cpp-python", importlib.util.find_spec("llama_cpp") is not None, f"{DEV_INSTALL} builds it")
    spec = importlib.util.find_spec("lm_eval")
    require("lm-eval", spec is not None, f"{DEV_INSTALL} (pip install lm-eval==0.4.13)")
    assert spec is not None and spec.origin is not None
    # lm-eval: the same rows in its piqa format, its own piqa task, its gguf model on a llama-cpp-python server.
    labels = (PIQA / "valid-labels.lst").read_text().split()
    rows = [{**row, "label": int(label)} for row, label in zip(read_jsonl(PIQA / "valid.jsonl"), labels, strict=True)]
    task_dir = tmp_path / "tasks"
    task_dir.mkdir()
    data = str(task_dir / "validation.jsonl")
    write_jsonl_atomic(data, rows[:ITEMS])
    task = {"include": str(Path(spec.origin).parent / "tasks" / "piqa" / "piqa.yaml"), "task": "piqa_local",
            "dataset_path": "json", "dataset_name": None,
            "dataset_kwargs": {"data_files": {"validation": data, "train": data}}}  # fmt: skip
    (task_dir / "piqa_local.yaml").write_text(yaml.safe_dump(task))
    out = tmp_path / "out"
    with serving(ServerConfig(server_type="llamacpp-python", context_length=256), tmp_path / "logs") as endpoint:
        lm = _lm_eval(endpoint.base_url.removesuffix("/v1"), task_dir, "piqa_local")
        # The pipeline, on the same server (the server type still decides that it can score log-likelihoods).
        argv = [
            sys.executable, str(repo / "pipeline" / "eval.py"), "--benchmarks", f"{TINY}:0", "--server_type",
            "llamacpp-python", "--server_address", endpoint.base_url, "--output_dir", str(out),
        ]  # fmt: skip
        env = {**env_with_repo, "NEMO_PIPELINE_CACHE": str(tmp_path / "cache")}
        done = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env, cwd=repo, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    bench_dir = out / "eval-results" / "tiny-piqa"
    ours = json.loads((bench_dir / "metrics.json").read_text())["metrics"]["all"]
    records = sorted(read_jsonl(bench_dir / "output.jsonl"), key=lambda r: r["id"])
    assert len(records) == ITEMS and {"acc", "acc_norm", "acc_stderr", "acc_norm_stderr"} <= set(ours)
    samples = sorted(lm["samples"], key=lambda s: s["doc_id"])
    for sample, record in zip(samples, records, strict=True):
        assert sample["arguments"] == [[r.context, r.continuation] for r in requests_of(record)], record["id"]
        assert record["loglikelihoods"] == sample["lls"], record["id"]  # exact: the same server computed both
    assert ours["acc"] == pytest.approx(lm["metrics"]["acc,none"], abs=1e-9)
    assert ours["acc_norm"] == pytest.approx(lm["metrics"]["acc_norm,none"], abs=1e-9)
    assert ours["acc_stderr"] == pytest.approx(lm["metrics"]["acc_stderr,none"], abs=1e-9)
