"""The same small tasks through lm-evaluation-harness 0.4.13 itself and through the pipeline, on the embedded model
served by llama-cpp-python: the same acc and acc_norm, per-item log-likelihoods and request strings.

lm-eval runs its `gguf` model type with its own task YAMLs (`include:` of its arc_easy and MMLU templates), pointed
at local files in the Hugging Face row format; the pipeline runs on the same rows in their official format. Slow:
llama-cpp-python's server sorts the whole vocabulary per echoed token, so the tasks are a few short items.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from nemo_pipeline.config import EvaluateConfig, GenerateConfig, MetricsConfig, ServerConfig, compose_config
from nemo_pipeline.datasets.benchmarks import arc_easy, mmlu_ll
from nemo_pipeline.evaluation.stages import run_compute_metrics, run_evaluate
from nemo_pipeline.inference import run_generate
from nemo_pipeline.inference._server_context import ServerEndpoint, serving
from nemo_pipeline.jsonl import read_jsonl, write_jsonl_atomic
from nemo_pipeline.loglik import requests_of
from tests.conftest import DEV_INSTALL, require
from tests.datasets.conftest import install_fixture

pytestmark = pytest.mark.slow
ARC_ITEMS, ARC_SHOTS = 2, 2
MMLU_ITEMS = 1


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerEndpoint]:
    """The embedded Gemma 3 270M on llama-cpp-python's server (the `llamacpp-python` server type)."""
    require("llama-cpp-python", importlib.util.find_spec("llama_cpp") is not None, f"{DEV_INSTALL} builds it")
    require("lm-eval", importlib.util.find_spec("lm_eval") is not None, f"{DEV_INSTALL} (pip install lm-eval==0.4.13)")
    cfg = ServerConfig(server_type="llamacpp-python", context_length=1024, start_timeout_s=240)
    with serving(cfg, tmp_path_factory.mktemp("server-logs")) as endpoint:
        yield endpoint


def _lm_eval(endpoint: ServerEndpoint, task_dir: Path, task: str, shots: int, limit: int) -> dict[str, Any]:
    """lm-eval's own evaluator in a child process (its imports stay out of ours), offline; its results JSON."""
    base = endpoint.base_url.removesuffix("/v1")
    code = (
        "import json, sys, lm_eval\n"
        "from lm_eval.tasks import TaskManager\n"
        "out = lm_eval.simple_evaluate(model='gguf', model_args={'base_url': sys.argv[1]}, tasks=[sys.argv[2]],\n"
        "    num_fewshot=int(sys.argv[3]), limit=int(sys.argv[4]),\n"
        "    task_manager=TaskManager(include_path=sys.argv[5]), log_samples=True)\n"
        "samples = [{'doc_id': s['doc_id'], 'arguments': [list(a) for a in s['arguments']],\n"
        "            'lls': [r[0][0] for r in s['resps']]} for s in out['samples'][sys.argv[2]]]\n"
        "print('RESULT ' + json.dumps({'metrics': out['results'][sys.argv[2]], 'samples': samples}))\n"
    )
    cache = task_dir / "hf-cache"
    env = {**os.environ, "HF_HOME": str(cache), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    argv = [sys.executable, "-c", code, base, task, str(shots), str(limit), str(task_dir)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


def _pipeline(endpoint: ServerEndpoint, items: list[dict[str, Any]], work: Path) -> tuple[dict[str, Any], list]:
    data, out = work / "data.jsonl", work / "bench" / "output.jsonl"
    write_jsonl_atomic(data, items)
    overrides = [
        f"++input_file={data}", f"++output_file={out}", "++server.server_type=llamacpp-python",
        f"++server.address='{endpoint.base_url}'", "++prompt_config=loglik/lm-eval", "++inference.temperature=0.0",
        "++inference.tokens_to_generate=1", "++progress=false",
    ]  # fmt: skip
    run_generate(compose_config(GenerateConfig, "generate", overrides))
    run_evaluate(compose_config(EvaluateConfig, "evaluate", [f"++input_files=[{out}]", "++grader=loglik"]))
    metrics = run_compute_metrics(compose_config(MetricsConfig, "compute_metrics", [f"++benchmark_dir={out.parent}"]))
    return metrics["metrics"]["all"], read_jsonl(out)


def _same(lm: dict[str, Any], ours: dict[str, Any], records: list[dict[str, Any]], metrics: tuple[str, ...]) -> None:
    by_id = {r["id"]: r for r in records}
    ordered = [by_id[i] for i in sorted(by_id)]
    for sample, record in zip(sorted(lm["samples"], key=lambda s: s["doc_id"]), ordered, strict=True):
        ours_args = [[r.context, r.continuation] for r in requests_of(record)]
        assert sample["arguments"] == ours_args, record["id"]  # the same context and continuation strings
        assert record["loglikelihoods"] == pytest.approx(sample["lls"], abs=1e-4), record["id"]
    for name in metrics:
        assert ours[name] == pytest.approx(lm["metrics"][f"{name},none"], abs=1e-9), name


@pytest.mark.timeout(1200)
def test_arc_easy_few_shot_matches_lm_eval(server: ServerEndpoint, tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("NEMO_PIPELINE_CACHE", str(cache))
    install_fixture(cache, "arc_easy")
    items = arc_easy.build(arc_easy.SOURCE, num_fewshot=ARC_SHOTS)[:ARC_ITEMS]
    # lm-eval reads the same questions as Hugging Face ai2_arc rows, with its own arc_easy task definition.
    task_dir = tmp_path / "tasks"
    task_dir.mkdir()
    files = {}
    for split, name in (("test", "ARC-Easy-Test.jsonl"), ("train", "ARC-Easy-Train.jsonl")):
        rows = []
        for row in read_jsonl(cache / "sources" / "arc_easy" / name):
            choices = row["question"]["choices"]
            texts, labels = [c["text"] for c in choices], [c["label"] for c in choices]
            rows.append(
                {"id": row["id"], "question": row["question"]["stem"], "answerKey": row["answerKey"],
                 "choices": {"text": texts, "label": labels}}
            )  # fmt: skip
        files[split] = str(task_dir / f"{split}.jsonl")
        write_jsonl_atomic(files[split], rows)
    lm_eval_dir = Path(importlib.util.find_spec("lm_eval").origin).parent  # type: ignore[union-attr, arg-type]
    task = {"include": str(lm_eval_dir / "tasks" / "arc" / "arc_easy.yaml"), "task": "arc_easy_fixture",
            "dataset_path": "json", "dataset_name": None, "dataset_kwargs": {"data_files": files},
            "validation_split": None, "tag": []}  # fmt: skip
    (task_dir / "arc_easy_fixture.yaml").write_text(yaml.safe_dump(task))
    lm = _lm_eval(server, task_dir, "arc_easy_fixture", ARC_SHOTS, ARC_ITEMS)
    ours, records = _pipeline(server, items, tmp_path / "run")
    assert items[0]["problem"].count("Question:") == ARC_SHOTS + 1
    _same(lm, ours, records, ("acc", "acc_norm"))


@pytest.mark.timeout(1200)
def test_mmlu_ll_through_eval_matches_lm_eval(
    server: ServerEndpoint, tmp_path: Path, repo: Path, env_with_repo
) -> None:
    """pipeline/eval.py end to end (its own llama-cpp-python server), and lm-eval's MMLU template on the same item."""
    out = tmp_path / "out"
    argv = [
        sys.executable, str(repo / "pipeline" / "eval.py"), "--benchmarks", "mmlu-ll:0", "--server_type",
        "llamacpp-python", "--output_dir", str(out), f"++max_samples={MMLU_ITEMS}", "++server.context_length=1024",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env_with_repo, cwd=repo, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    metrics = json.loads((out / "eval-results" / "mmlu-ll" / "metrics.json").read_text())["metrics"]
    records = read_jsonl(out / "eval-results" / "mmlu-ll" / "output.jsonl")
    assert len(records) == MMLU_ITEMS and set(metrics) == {"all", records[0]["subset"]}
    assert {"acc", "acc_stderr", "accuracy"} <= set(metrics["all"])
    assert "acc" in (out / "summary.md").read_text()
    # lm-eval on the same question, as a cais/mmlu row, with its MMLU template and the subject's description.
    first = json.loads(mmlu_ll.SOURCE.read_member(mmlu_ll.MEMBER).decode().splitlines()[0])
    answer = "ABCD".index(first["correct_answer"])
    row = {"question": first["question"], "subject": records[0]["subset"], "answer": answer,
           "choices": [first[f"answer_{x}"] for x in "abcd"]}  # fmt: skip
    task_dir = tmp_path / "tasks"
    task_dir.mkdir()
    write_jsonl_atomic(task_dir / "test.jsonl", [row])
    lm_eval_dir = Path(importlib.util.find_spec("lm_eval").origin).parent  # type: ignore[union-attr, arg-type]
    subject = records[0]["subset"].replace("_", " ")
    data = str(task_dir / "test.jsonl")
    description = f"The following are multiple choice questions (with answers) about {subject}.\n\n"
    task = {"include": str(lm_eval_dir / "tasks" / "mmlu" / "default" / "_default_template_yaml"),
            "task": "mmlu_fixture", "dataset_path": "json", "dataset_name": None,
            "dataset_kwargs": {"data_files": {"test": data, "dev": data}},
            "description": description}  # fmt: skip
    (task_dir / "mmlu_fixture.yaml").write_text(yaml.safe_dump(task))
    lm = _lm_eval(server, task_dir, "mmlu_fixture", 0, MMLU_ITEMS)
    _same(lm, metrics["all"], records, ("acc",))
