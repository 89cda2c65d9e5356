"""Our prepared log-likelihood items against lm-evaluation-harness 0.4.13's own task definitions, with no model:
lm-eval builds its requests for the same documents (its arc_easy, hellaswag, winogrande, piqa, truthfulqa and MMLU
YAMLs `include:`d, pointed at local files), at each benchmark's default number of shots with its default few-shot
seed; every (context, continuation) must equal ours, and lm-eval's `process_results` on made-up log-likelihoods
must give our acc, acc_norm and mc2."""

from __future__ import annotations

import importlib.util
import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nemo_pipeline.datasets import BENCHMARKS
from nemo_pipeline.datasets.benchmarks import _arc, _hellaswag, _mmlu_ll, _piqa, _winogrande
from nemo_pipeline.jsonl import read_jsonl, write_jsonl_atomic
from nemo_pipeline.loglik import FEWSHOT_SEED, loglik_fields, requests_of, score_item
from tests.conftest import DEV_INSTALL, require
from tests.datasets.conftest import install_fixture


def _lm_eval_dir() -> Path:
    spec = importlib.util.find_spec("lm_eval")
    require("lm-eval", spec is not None, f"{DEV_INSTALL} (pip install lm-eval==0.4.13)")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent


def _arc_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for row in read_jsonl(path):
        choices = row["question"]["choices"]
        texts, labels = [c["text"] for c in choices], [c["label"] for c in choices]
        rows.append({"id": row["id"], "question": row["question"]["stem"], "answerKey": row["answerKey"],
                     "choices": {"text": texts, "label": labels}})  # fmt: skip
    return rows


def _piqa_rows(path: Path) -> list[dict[str, Any]]:
    labels = path.with_name("valid-labels.lst").read_text().split()
    return [{**row, "label": int(label)} for row, label in zip(read_jsonl(path), labels, strict=True)]


def _tqa_rows(path: Path) -> list[dict[str, Any]]:
    def targets(raw: dict[str, int]) -> dict[str, list[Any]]:
        return {"choices": list(raw), "labels": list(raw.values())}

    rows = json.loads(path.read_text())
    return [{"question": r["question"], "mc1_targets": targets(r["mc1_targets"]),
             "mc2_targets": targets(r["mc2_targets"])} for r in rows]  # fmt: skip


# benchmark -> (lm-eval task file, {split: (our fixture file, converter to lm-eval's row format)}, our items)
Case = tuple[str, dict[str, tuple[str, Callable[[Path], list[dict[str, Any]]]]]]
CASES: dict[str, Case] = {
    "arc_easy": ("arc/arc_easy.yaml", {"test": ("ARC-Easy-Test.jsonl", _arc_rows),
                                       "train": ("ARC-Easy-Train.jsonl", _arc_rows)}),
    "hellaswag": ("hellaswag/hellaswag.yaml", {"validation": ("hellaswag_val.jsonl", read_jsonl),
                                              "train": ("hellaswag_train.jsonl", read_jsonl)}),
    "winogrande": ("winogrande/default.yaml", {"validation": ("dev.jsonl", read_jsonl),
                                               "train": ("train_xl.jsonl", read_jsonl)}),
    "piqa": ("piqa/piqa.yaml", {"validation": ("valid.jsonl", _piqa_rows),  # lm-eval loads a training split
                                "train": ("valid.jsonl", _piqa_rows)}),      # even at 0 shots
    "truthfulqa_mc1": ("truthfulqa/truthfulqa_mc1.yaml", {"validation": ("mc_task.json", _tqa_rows)}),
    "truthfulqa_mc2": ("truthfulqa/truthfulqa_mc2.yaml", {"validation": ("mc_task.json", _tqa_rows)}),
}  # fmt: skip
SHOTS = {  # each benchmark's default number of shots
    "arc_easy": _arc.NUM_FEWSHOT, "hellaswag": _hellaswag.NUM_FEWSHOT, "winogrande": _winogrande.NUM_FEWSHOT,
    "piqa": _piqa.NUM_FEWSHOT, "truthfulqa_mc1": 0, "truthfulqa_mc2": 0,
}  # fmt: skip


def _lm_eval_task(task_dir: Path, name: str, include: Path, files: dict[str, str], shots: int, **extra: Any) -> Any:
    from lm_eval.tasks import TaskManager, get_task_dict

    spec = {"include": str(include), "task": f"{name}_local", "dataset_path": "json", "dataset_name": None,
            "dataset_kwargs": {"data_files": files}, **extra}  # fmt: skip
    (task_dir / f"{name}_local.yaml").write_text(yaml.safe_dump(spec))
    task = get_task_dict([f"{name}_local"], TaskManager(include_path=str(task_dir)))[f"{name}_local"]
    if task.get_config("num_fewshot") != 0:
        task.set_config(key="num_fewshot", value=shots)
    task.set_fewshot_seed(seed=FEWSHOT_SEED)
    task.build_all_requests(limit=None, rank=0, world_size=1)
    return task


def _compare(task: Any, items: list[dict[str, Any]]) -> None:
    args: dict[int, list[list[str]]] = {}
    for instance in sorted(task.instances, key=lambda i: (i.doc_id, i.idx)):
        args.setdefault(instance.doc_id, []).append(list(instance.args))
    docs = list(task.eval_docs)
    assert len(docs) == len(items) == len(args)
    rnd = random.Random(7)
    for doc_id, item in enumerate(items):
        assert args[doc_id] == [[r.context, r.continuation] for r in requests_of(item)], item["id"]
        for _ in range(5):  # made-up log-likelihoods (ties included): lm-eval's metrics equal ours
            lls = [rnd.choice([-1.0, -2.5, -0.25, rnd.uniform(-9, 0)]) for _ in args[doc_id]]
            theirs = task.process_results(docs[doc_id], [(ll, False) for ll in lls])
            ours = score_item(loglik_fields(item), lls)
            assert ours.acc == pytest.approx(theirs["acc"], abs=1e-9), item["id"]
            if "acc_norm" in theirs and loglik_fields(item).acc_norm:
                assert ours.acc_norm == pytest.approx(theirs["acc_norm"], abs=1e-9), item["id"]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", sorted(CASES))
def test_requests_and_metrics_equal_lm_eval(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lm_eval_dir = _lm_eval_dir()
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "cache"
    monkeypatch.setenv("NEMO_PIPELINE_CACHE", str(cache))
    install_fixture(cache, name)
    task_file, splits = CASES[name]
    files = {}
    for split, (filename, convert) in splits.items():
        files[split] = str(tmp_path / f"{split}.jsonl")
        write_jsonl_atomic(files[split], convert(cache / "sources" / name / filename))
    benchmark = BENCHMARKS.get(name)
    items = benchmark.load(benchmark.source)
    extra = {"validation_split": None} if name == "arc_easy" else {}
    task = _lm_eval_task(tmp_path, name, lm_eval_dir / "tasks" / task_file, files, SHOTS[name], **extra)
    _compare(task, items)


@pytest.mark.timeout(300)
def test_mmlu_ll_requests_and_acc_equal_lm_eval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lm_eval_dir = _lm_eval_dir()
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    items = [i for i in _mmlu_ll.load(_mmlu_ll.SOURCE) if i["subset"] == "high_school_physics"][:20]
    rows = []
    for line in _mmlu_ll.SOURCE.read_member(_mmlu_ll.MEMBER).decode().splitlines():
        row = json.loads(line)
        if row["topic"] == "high school physics" and len(rows) < 20:
            answer = "ABCD".index(row["correct_answer"])
            rows.append({"question": row["question"], "subject": "high_school_physics",
                         "choices": [row[f"answer_{x}"] for x in "abcd"], "answer": answer})  # fmt: skip
    data = str(tmp_path / "test.jsonl")
    write_jsonl_atomic(data, rows)
    description = "The following are multiple choice questions (with answers) about high school physics.\n\n"
    template = lm_eval_dir / "tasks" / "mmlu" / "default" / "_default_template_yaml"
    task = _lm_eval_task(tmp_path, "mmlu", template, {"test": data, "dev": data}, 0, description=description)
    _compare(task, items)
