"""IFEval's four official accuracies in metrics.json, through the metrics aggregate hook."""

import json

import pytest

from nemo_pipeline.config import EvaluateConfig, MetricsConfig
from nemo_pipeline.errors import DataError
from nemo_pipeline.evaluation import compute_metrics
from nemo_pipeline.evaluation.metrics import AGGREGATES, register_aggregate
from nemo_pipeline.evaluation.stages import run_compute_metrics, run_evaluate

OFFICIAL = (
    "prompt_strict_accuracy",
    "prompt_loose_accuracy",
    "instruction_strict_accuracy",
    "instruction_loose_accuracy",
)


def _graded(rid, total, strict, loose, subset=None, tokens=10):
    scores = {
        "prompt_strict": float(strict == total),
        "prompt_loose": float(loose == total),
        "instruction_strict": strict / total,
        "instruction_loose": loose / total,
        "instructions_total": float(total),
        "instructions_followed_strict": float(strict),
        "instructions_followed_loose": float(loose),
    }
    record = {
        "id": rid,
        "generation": "x",
        "num_generated_tokens": tokens,
        "generation_time_s": 0.5,
        "predicted_answer": "1",
        "is_correct": strict == total,
        "grading_reason": "",
        "scores": scores,
    }
    return record if subset is None else {**record, "subset": subset}


@pytest.mark.timeout(30)
def test_instruction_accuracy_is_a_micro_average_in_every_block():
    records = [
        _graded("a", total=1, strict=1, loose=1, subset="short"),
        _graded("b", total=3, strict=0, loose=2, subset="long"),
        _graded("c", total=4, strict=2, loose=4, subset="long"),
    ]
    metrics = compute_metrics({None: records})["metrics"]
    everything = metrics["all"]
    assert everything["prompt_strict_accuracy"] == pytest.approx(100 / 3)
    assert everything["prompt_loose_accuracy"] == pytest.approx(200 / 3)
    assert everything["instruction_strict_accuracy"] == pytest.approx(100 * 3 / 8)  # not the mean of 1, 0, 0.5
    assert everything["instruction_loose_accuracy"] == pytest.approx(100 * 7 / 8)
    assert everything["instruction_strict"] == pytest.approx(0.5)  # the per-item mean stays, under its own name
    assert (everything["num_prompts"], everything["num_instructions"]) == (3, 8)
    assert everything["accuracy"] == pytest.approx(everything["prompt_strict_accuracy"])
    long = metrics["long"]
    assert long["instruction_strict_accuracy"] == pytest.approx(100 * 2 / 7)
    assert long["prompt_loose_accuracy"] == pytest.approx(50.0)
    assert metrics["short"]["instruction_loose_accuracy"] == pytest.approx(100.0)


@pytest.mark.timeout(30)
def test_seeds_pool_into_the_same_accuracies():
    seed0 = [_graded("a", 2, 2, 2), _graded("b", 2, 0, 1)]
    seed1 = [_graded("a", 2, 1, 2), _graded("b", 2, 0, 0)]
    block = compute_metrics({0: seed0, 1: seed1})["metrics"]["all"]
    assert block["prompt_strict_accuracy"] == pytest.approx(25.0)  # 1 of 4 item-runs, = mean over seeds
    assert block["instruction_strict_accuracy"] == pytest.approx(100 * 3 / 8)
    assert block["instruction_loose_accuracy"] == pytest.approx(100 * 5 / 8)
    assert block["pass@1"] == pytest.approx(25.0)


@pytest.mark.timeout(30)
def test_other_graders_get_no_ifeval_keys():
    math = [{"id": "m", "predicted_answer": "2", "is_correct": True, "scores": {}}]
    mixed = [_graded("a", 1, 1, 1), {"id": "m", "predicted_answer": None, "is_correct": False, "scores": {}}]
    for records in (math, mixed):
        block = compute_metrics({None: records})["metrics"]["all"]
        assert not set(OFFICIAL) & set(block)


@pytest.mark.timeout(30)
def test_hooks_are_a_registry_and_collisions_fail():
    assert "ifeval" in AGGREGATES
    with pytest.raises(ValueError, match="registered twice"):
        register_aggregate("ifeval", "instructions_total", lambda records: {})
    hook = register_aggregate("test-collides", "instructions_total", lambda records: {"accuracy": 1.0})
    try:
        with pytest.raises(DataError, match="'accuracy' collides"):
            compute_metrics({None: [_graded("a", 1, 1, 1)]})
    finally:
        AGGREGATES._entries.pop(hook.name)  # keep the registry as other tests expect it


@pytest.mark.timeout(120)
def test_metrics_json_of_a_graded_ifeval_run(tmp_path):
    bench = tmp_path / "eval-results" / "ifeval"
    bench.mkdir(parents=True)
    items = [
        # strict and loose: no comma anywhere
        ("ifeval-1", "Cats sleep all day long.", ["punctuation:no_comma"], [{}]),
        # loose only: the comma sits in the first line, which the loose check may drop
        ("ifeval-2", "Sure, here it is:\ncats sleep all day long", ["punctuation:no_comma"], [{}]),
        # lowercase followed, no comma not followed in any variant
        ("ifeval-3", "cats, dogs, and birds\nsleep, eat, play\nall, day, long",
         ["change_case:english_lowercase", "punctuation:no_comma"], [{}, {}]),
    ]  # fmt: skip
    rows = [
        {"id": rid, "problem": "p", "expected_answer": None, "generation": text, "num_generated_tokens": 5,
         "generation_time_s": 0.1, "instruction_id_list": ids, "kwargs": kwargs}
        for rid, text, ids, kwargs in items
    ]  # fmt: skip
    (bench / "output.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_evaluate(EvaluateConfig(input_files=[str(bench / "output.jsonl")], grader="ifeval"))
    run_compute_metrics(MetricsConfig(benchmark_dir=str(bench)))
    block = json.loads((bench / "metrics.json").read_text())["metrics"]["all"]
    assert block["prompt_strict_accuracy"] == pytest.approx(100 / 3)
    assert block["prompt_loose_accuracy"] == pytest.approx(200 / 3)
    assert block["instruction_strict_accuracy"] == pytest.approx(100 * 2 / 4)
    assert block["instruction_loose_accuracy"] == pytest.approx(100 * 3 / 4)
    assert block["num_instructions"] == 4
