"""MT-Bench-101 answered, judged and scored exactly as OpenCompass does, checked against OpenCompass's own code
(opencompass 0.5.4 from its pinned wheel): its dataset rows (golden history, judged turns, judge prompts), its
rating parse and its aggregation (the dataset post-processor and the summarizer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nemo_pipeline.datasets import BENCHMARKS
from nemo_pipeline.datasets.benchmarks import mt_bench_101
from nemo_pipeline.datasets.benchmarks._opencompass import mt_bench_101_texts
from nemo_pipeline.evaluation.metrics import compute_metrics
from nemo_pipeline.evaluation.mt_bench_101_grader import OPENCOMPASS_JUDGE, grade_mt_bench_101, render_mt_bench_101
from nemo_pipeline.inference.multiturn import golden_messages
from nemo_pipeline.inference.prompts import load_prompt
from tests.reference.wheels import OPENCOMPASS, extract, run_driver

TASKS = ("CM", "SI", "AR", "TS", "CC", "CR", "FR", "SC", "SA", "MR", "GR", "IC", "PI")


def _dialogues() -> list[dict[str, Any]]:
    """Two dialogues per task, 2 to 5 turns, with braces, quotes and format-like text in them."""
    rows = []
    for t, task in enumerate(TASKS):
        for d in (1, 2):
            turns = 2 + (t + d) % 4
            history = [
                {
                    "user": f"{task} dialogue {d}, question {k + 1}: what about {{x}} and 'quotes'?",
                    "bot": f'Golden answer {k + 1} for {task}-{d}: {{prediction}} is a literal here, "ok".',
                }
                for k in range(turns)
            ]
            rows.append({"task": task, "id": d, "history": history})
    return rows


JUDGMENTS = ("Rating: [[8]]", "[[3]] overall", "Score [5] then [[9]]", "no rating", "Rating: [[7.5]]", "[[10]]",
             "The answer [2]", "[[6]]", "[[1]]", "[[4]] and [9]")  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("mtbench101")
    (folder / "mtbench101.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _dialogues()), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def opencompass(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prefixes = (
        "opencompass/datasets/subjective/mtbench101.py",
        "opencompass/datasets/subjective/utils.py",
        "opencompass/summarizers/subjective/mtbench101.py",
    )
    return extract(OPENCOMPASS, prefixes, tmp_path_factory.mktemp("opencompass"))


@pytest.fixture
def items(data: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    target = tmp_path / "cache" / "sources" / "mt-bench-101"
    target.mkdir(parents=True)
    (target / "mtbench101.jsonl").write_bytes((data / "mtbench101.jsonl").read_bytes())
    monkeypatch.setenv("NEMO_PIPELINE_CACHE", str(tmp_path / "cache"))
    bench = BENCHMARKS.get("mt-bench-101")
    return bench.load(bench.source)


def _answered(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        answers = [None] * len(item["turns"])
        for k in item["judged_turns"]:
            answers[k] = f"Model answer to {item['id']} turn {k + 1}: {{braces}} and {{prediction}}."
        out.append({**item, "generations": answers})
    return out


@pytest.mark.timeout(300)
def test_rows_history_and_judge_prompts_equal_opencompass(items, data, opencompass, tmp_path) -> None:
    rows = run_driver("opencompass_mt_bench_101.py", opencompass, {"data_dir": str(data)}, tmp_path)["rows"]
    answered = _answered(items)
    prompt = load_prompt("generic/chat")
    ours = [(item, k, chat) for item in answered for k, chat in zip(item["judged_turns"], render_mt_bench_101(item),
                                                                     strict=True)]  # fmt: skip
    assert len(ours) == len(rows) > len(items)
    skipped = {item["task"] for item in items if item["judged_turns"][0] == 1}
    assert skipped == set(mt_bench_101.SKIP_FIRST_TASKS) == set(mt_bench_101_texts().skip_first_tasks)
    for (item, k, chat), row in zip(ours, rows, strict=True):
        assert (item["task"], item["dialogue_id"], str(k + 1)) == (row["task"], row["multi_id"], row["turn_id"])
        # The model answers the judged turn after the golden history: ChatInferencer(infer_mode="last").
        assert golden_messages(prompt, item, k) == row["dialogue"][:-1]
        # OpenCompass's judge request: system prompt, and the template with the prediction filled in.
        answer = item["generations"][k]
        expected = [
            {"role": "system", "content": row["system_prompt"]},
            {"role": "user", "content": row["prompt_template"].replace("{prediction}", answer)},
        ]
        assert chat == expected, (item["id"], k)
    assert any("The reference solution is" in chat[1]["content"] for item, _, chat in ours if item["task"] == "MR")


@pytest.mark.timeout(300)
def test_scores_equal_opencompass_postprocessor_and_summarizer(items, data, opencompass, tmp_path) -> None:
    answered = _answered(items)
    judged_rows = [(item, k) for item in answered for k in item["judged_turns"]]
    judgments = [JUDGMENTS[(n * 7) % len(JUDGMENTS)] for n in range(len(judged_rows))]
    reference = run_driver(
        "opencompass_mt_bench_101.py", opencompass, {"data_dir": str(data), "judgments": judgments}, tmp_path
    )
    texts = iter(judgments)
    graded = []
    for item in answered:
        judged = {**item, "judge_generation": [next(texts) for _ in item["judged_turns"]]}
        verdict = grade_mt_bench_101(judged)
        graded.append({"id": item["id"], "subset": item["subset"], "task": item["task"], "is_correct": verdict.correct,
                       "predicted_answer": verdict.predicted, "scores": verdict.scores})  # fmt: skip
    metrics = compute_metrics({None: graded})["metrics"]
    results = reference["dataset_results"]
    assert round(metrics["all"]["mt_bench_101_score"], 3) == results["avg"]
    assert round(metrics["all"]["mt_bench_101_score"], 2) == reference["summarizer_average"]
    for task in TASKS:
        if task in results:
            assert metrics[task]["mt_bench_101_dialogue"] == pytest.approx(results[task], abs=1e-12), task
        else:  # every turn of the task unrated: OpenCompass leaves the task out, and so do we
            assert "mt_bench_101_dialogue" not in metrics[task]
    assert metrics["all"]["mt_bench_101_tasks"] == len(results) - 1


def test_protocol_declared_with_opencompass_judge_settings() -> None:
    bench = BENCHMARKS.get("mt-bench-101")
    assert bench.grader == OPENCOMPASS_JUDGE.grader == "mt-bench-101" and bench.reference is not None
    assert (OPENCOMPASS_JUDGE.max_tokens, OPENCOMPASS_JUDGE.temperature) == (4096, 0.8)
