"""Log-likelihood scores on a real vLLM server equal lm-evaluation-harness's own, for a model with a BOS token and
one without.

The same PIQA rows go through pipeline/eval.py (items made by the pipeline's `piqa` benchmark, scored on the shared
vLLM server)
and through lm-eval 0.4.13's own `piqa` task with its `local-completions` model pointed at the same server (lm-eval
runs beside vllm, see conftest.py). lm-eval
tokenizes the context and the whole text with the model's tokenizer (`tokenizer=<model folder>`) and sends token
ids (`tokenized_requests`); the pipeline sends text, which vLLM tokenizes with the same tokenizer, BOS included.
So lm-eval's `add_bos_token` is set to what the model's tokenizer does to a text (true for the BOS model, false
without BOS: both sides then score the same tokens, and the model sees the BOS it was made for). The rows include
characters that the tiny tokenizer splits into byte tokens (`€`), which vLLM echoes as empty strings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from nemo_pipeline.datasets._source import UserFile
from nemo_pipeline.datasets.benchmarks import _piqa
from nemo_pipeline.jsonl import read_jsonl, write_jsonl_atomic
from nemo_pipeline.loglik import requests_of
from tests.conftest import REPO, require
from tests.vllm.conftest import VLLM_INSTALL, RunningVllm, has_module, require_vllm

PIQA = REPO / "tests" / "fixtures" / "datasets" / "piqa"
MORE_ROWS = [
    {"goal": "Pay 5€ for a café crème", "sol1": "hand over a 5€ note — exactly.", "sol2": "give them a naïve smile.",
     "label": 0},
    {"goal": "Read 10 °C on a thermometer", "sol1": "look at the scale, π ≈ 3.14 is not it.",
     "sol2": "put it in the water × 2.", "label": 1},
]  # fmt: skip

LM_EVAL = """
import json, sys, lm_eval
from lm_eval.tasks import TaskManager
args = json.loads(sys.argv[1])
out = lm_eval.simple_evaluate(model="local-completions", model_args=args["model_args"], tasks=[args["task"]],
    num_fewshot=0, task_manager=TaskManager(include_path=args["task_dir"]), log_samples=True)
samples = [{"doc_id": s["doc_id"], "arguments": [list(a) for a in s["arguments"]],
            "lls": [r[0][0] for r in s["resps"]]} for s in out["samples"][args["task"]]]
print("RESULT " + json.dumps({"metrics": out["results"][args["task"]], "samples": samples}))
"""


def _rows() -> list[dict[str, Any]]:
    labels = (PIQA / "valid-labels.lst").read_text().split()
    rows = [{**row, "label": int(label)} for row, label in zip(read_jsonl(PIQA / "valid.jsonl"), labels, strict=True)]
    return rows + MORE_ROWS


def _lm_eval(python: str, server: RunningVllm, rows: list[dict[str, Any]], work: Path) -> dict[str, Any]:
    """lm-eval's own evaluator under `python`, its piqa task on `rows`, its local-completions model on the server
    (offline)."""
    where = [python, "-c", "import lm_eval, pathlib; print(pathlib.Path(lm_eval.__file__).parent)"]
    package = subprocess.run(where, capture_output=True, text=True, timeout=120, check=True).stdout.strip()
    tasks = Path(package) / "tasks"
    task_dir = work / "tasks"
    task_dir.mkdir()
    data = str(task_dir / "validation.jsonl")
    write_jsonl_atomic(data, rows)
    task = {"include": str(tasks / "piqa" / "piqa.yaml"), "task": "piqa_local",
            "dataset_path": "json", "dataset_name": None,
            "dataset_kwargs": {"data_files": {"validation": data, "train": data}}}  # fmt: skip
    (task_dir / "piqa_local.yaml").write_text(yaml.safe_dump(task))
    model_args = {
        "model": str(server.model),
        "base_url": f"{server.base_url}/completions",
        "tokenizer": str(server.model),
        "tokenizer_backend": "huggingface",
        "tokenized_requests": True,
        "add_bos_token": server.kind == "bos",
        "num_concurrent": 1,
        "max_retries": 1,
    }
    args = json.dumps({"model_args": model_args, "task": "piqa_local", "task_dir": str(task_dir)})
    env = {**os.environ, "HF_HOME": str(work / "hf"), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [python, "-c", LM_EVAL, args], capture_output=True, text=True, timeout=900, env=env, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


def _pipeline(server: RunningVllm, rows: list[dict[str, Any]], work: Path, env_with_repo: dict[str, str]) -> Path:
    """pipeline/eval.py on `rows` made into items by the pipeline's own piqa benchmark (as a file-defined benchmark:
    the registered one insists on the full 1,838-item file), scored on the running server."""
    source = work / "source"
    source.mkdir()
    write_jsonl_atomic(source / "valid.jsonl", rows)
    user_file = UserFile(benchmark="piqa", filenames=("valid.jsonl",), official_url="-", license="-")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(UserFile, "target_dir", lambda self: source)
        items = _piqa.build(user_file, num_fewshot=0)
    write_jsonl_atomic(work / "tiny-piqa.jsonl", items)
    benchmark = {"name": "tiny-piqa", "description": "PIQA rows (test)", "data": "tiny-piqa.jsonl", "license": "-",
                 "grader": "loglik", "prompt_config": "loglik/lm-eval", "tokens_to_generate": 1,
                 "fields": {k: k for k in ("id", "problem", "expected_answer", "loglik")}}  # fmt: skip
    (work / "tiny-piqa.yaml").write_text(yaml.safe_dump(benchmark))
    out = work / "out"
    argv = [
        sys.executable, str(REPO / "pipeline" / "eval.py"), "--benchmarks", f"{work / 'tiny-piqa.yaml'}:0",
        "--server_type", "vllm", "--server_address", server.base_url, "--model", str(server.model),
        "--output_dir", str(out),
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env_with_repo, cwd=REPO, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out / "eval-results" / "tiny-piqa"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_loglikelihoods_on_vllm_equal_lm_evals(
    vllm_server: RunningVllm, tmp_path: Path, env_with_repo: dict[str, str]
) -> None:
    python = require_vllm()
    require("lm-eval beside vllm", has_module(python, "lm_eval"), VLLM_INSTALL)
    rows = _rows()
    bench_dir = _pipeline(vllm_server, rows, tmp_path, env_with_repo)
    ours = json.loads((bench_dir / "metrics.json").read_text())["metrics"]["all"]
    records = sorted(read_jsonl(bench_dir / "output.jsonl"), key=lambda r: r["id"])
    lm = _lm_eval(python, vllm_server, rows, tmp_path)
    samples = sorted(lm["samples"], key=lambda s: s["doc_id"])
    assert len(records) == len(samples) == len(rows)
    for sample, record in zip(samples, records, strict=True):
        assert sample["arguments"] == [[r.context, r.continuation] for r in requests_of(record)], record["id"]
        assert record["loglikelihoods"] == pytest.approx(sample["lls"], abs=1e-3), record["id"]
    # The scores must tell the choices apart, or equal accuracies would prove nothing.
    assert all(len(set(r["loglikelihoods"])) == len(r["loglikelihoods"]) for r in records)
    assert ours["acc"] == lm["metrics"]["acc,none"]
    assert ours["acc_norm"] == lm["metrics"]["acc_norm,none"]
