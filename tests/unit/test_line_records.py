"""The records of an output*.jsonl line: what generate adds (`Generated`), the verdict (`Grading`) and a graded line
as metrics reads it (`GradedLine`); written by `to_json`, read back strictly, old lines still read."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from nemo_pipeline.config import GenerateConfig, MetricsConfig, compose_config
from nemo_pipeline.errors import DataError
from nemo_pipeline.evaluation import compute_metrics
from nemo_pipeline.evaluation.stages import run_compute_metrics
from nemo_pipeline.inference import run_generate
from nemo_pipeline.jsonl import read_jsonl
from nemo_pipeline.records import Generated, GradedLine, Grading, LoglikScores
from tests.fakes.openai_server import Script, ScriptedServer

PLAIN = Generated("The answer is 4.", 5, "stop", 0.25)
MULTI_TURN = Generated("Mat Cats", 10, "stop", 1.5, generations=("Cats.", None, "Mat Cats"))
CODE = Generated(
    "x = 2\n```output\n4\n```", 7, "length", 2.0,
    code_executions=({"code": "print(4)", "process_status": "completed", "stdout": "4\n", "stderr": ""},),
)  # fmt: skip
LOGLIK = Generated(
    "Paris",
    0,
    "loglikelihood",
    0.0125,
    loglik=LoglikScores((-1.5, -0.25, -7.0), (False, True, False), (2, 1, 3)),
)


def _json_round_trip(line: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(line))


@pytest.mark.parametrize("generated", [PLAIN, MULTI_TURN, CODE, LOGLIK], ids=["plain", "turns", "code", "loglik"])
def test_generated_reads_back_what_it_wrote(generated: Generated) -> None:
    line = _json_round_trip({"id": "q1", "problem": "2+2?", **generated.to_json()})
    assert Generated.read(line, "out.jsonl:1") == generated


def test_generated_keys_keep_the_order_the_stage_writes() -> None:
    assert list(PLAIN.to_json()) == ["generation", "num_generated_tokens", "finish_reason", "generation_time_s"]
    assert list(MULTI_TURN.to_json()) == [
        "generation", "generations", "num_generated_tokens", "finish_reason", "generation_time_s",
    ]  # fmt: skip
    assert list(CODE.to_json())[-2:] == ["code_executions", "generation_time_s"]
    assert list(LOGLIK.to_json()) == [
        "loglikelihoods", "is_greedy", "continuation_tokens",
        "generation", "num_generated_tokens", "finish_reason", "generation_time_s",
    ]  # fmt: skip
    assert LOGLIK.to_json()["loglikelihoods"] == [-1.5, -0.25, -7.0]


@pytest.mark.timeout(60)
def test_the_generate_stages_real_lines_read_back_byte_for_byte(tmp_path: Path, tiny_gsm8k: Path) -> None:
    out = tmp_path / "out.jsonl"
    overrides = [
        f"++input_file={tiny_gsm8k}",
        f"++output_file={out}",
        "++server.server_type=openai",
        "++progress=false",
    ]
    with ScriptedServer(Script(answers={"3 plus 3": "3 + 3 = 6. The answer is 6."})) as server:
        run_generate(compose_config(GenerateConfig, "generate", [*overrides, f"++server.address='{server.url}'"]))
    items = {item["id"]: item for item in read_jsonl(tiny_gsm8k)}
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(items) == 5
    for number, text in enumerate(lines, start=1):
        line = json.loads(text)
        generated = Generated.read(line, f"{out}:{number}")
        assert json.dumps({**items[line["id"]], **generated.to_json()}, ensure_ascii=False) == text
    by_id = {json.loads(t)["id"]: Generated.read(json.loads(t), "") for t in lines}
    assert by_id["item-3"].generation == "3 + 3 = 6. The answer is 6."
    assert by_id["item-3"].num_generated_tokens == 9  # the scripted server counts words
    assert by_id["item-3"].finish_reason == "stop" and by_id["item-3"].generations is None


def test_old_lines_without_the_later_keys_read_as_their_defaults() -> None:
    assert Generated.read({"id": "q1", "generation": "4"}, "old.jsonl:3") == Generated("4")
    old = GradedLine.read({"id": "q1", "is_correct": True, "predicted_answer": "4"}, "old.jsonl:3")
    assert old.grading == Grading(True, "4", "", {})
    assert (old.num_generated_tokens, old.generation_time_s) == (0, 0.0)
    assert Grading.read({"is_correct": False}, "").predicted_answer is None  # no answer


def test_a_graded_line_reads_its_verdict_and_cost() -> None:
    grading = Grading(False, "7", "mismatch", {"strict": 0.5, "count": 2.0})
    line = _json_round_trip({"id": "q2", **PLAIN.to_json(), **grading.to_json(), "scores": {"strict": 0.5, "count": 2}})
    graded = GradedLine.read(line, "out.jsonl:2")
    assert graded.grading == grading and isinstance(graded.grading.scores["count"], float)
    assert (graded.num_generated_tokens, graded.generation_time_s) == (5, 0.25)
    assert graded.line["id"] == "q2"


GENERATED_BAD = [
    ("generation", None),
    ("generation", 12),
    ("num_generated_tokens", "12"),
    ("num_generated_tokens", 1.5),
    ("num_generated_tokens", True),
    ("num_generated_tokens", -1),
    ("generation_time_s", "0.5"),
    ("generation_time_s", float("nan")),
    ("finish_reason", None),
    ("generations", "a"),
    ("generations", [1]),
    ("code_executions", [{"code": 1}]),
    ("loglikelihoods", [-1.0, "x"]),
    ("is_greedy", [1, 0]),
    ("is_greedy", [True]),  # one per choice
    ("continuation_tokens", [1.0, 2.0]),
]


@pytest.mark.parametrize(("key", "value"), GENERATED_BAD)
def test_a_generated_key_of_the_wrong_type_is_an_error_naming_it(key: str, value: Any) -> None:
    line = {"id": "q1", **LOGLIK.to_json(), "generations": ["a", None], key: value}
    with pytest.raises(DataError, match=rf"^out\.jsonl:7: '{key}' should be"):
        Generated.read(line, "out.jsonl:7")


def test_a_line_without_a_generation_is_an_error() -> None:
    with pytest.raises(DataError, match=r"out\.jsonl:2: 'generation' should be a string, got nothing"):
        Generated.read({"id": "q1"}, "out.jsonl:2")


GRADED_BAD = [
    ("is_correct", 1),
    ("is_correct", None),
    ("predicted_answer", 12),
    ("grading_reason", None),
    ("scores", [1.0]),
    ("scores", {"a": "x"}),
    ("scores", {"a": True}),
    ("num_generated_tokens", "9"),
    ("generation_time_s", None),
]


@pytest.mark.parametrize(("key", "value"), GRADED_BAD)
def test_a_graded_key_of_the_wrong_type_is_an_error_naming_it(key: str, value: Any) -> None:
    line = {"id": "q1", **PLAIN.to_json(), **Grading(True, "4").to_json(), key: value}
    with pytest.raises(DataError, match=rf"^out\.jsonl:4: '{key}' should be"):
        GradedLine.read(line, "out.jsonl:4")


def test_text_of_reads_any_line_leniently() -> None:
    assert Generated.text_of({"generation": "4"}) == "4"
    assert Generated.text_of({}) == ""
    assert Generated.text_of({"generation": ["a"]}) == '["a"]'


def _write_lines(path: Path, lines: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def test_the_metrics_stage_reads_old_lines_and_names_the_file_line_and_key_of_a_bad_one(tmp_path: Path) -> None:
    output = tmp_path / "eval-results" / "gsm8k" / "output.jsonl"
    old = {"id": "q1", "generation": "4", "is_correct": True, "predicted_answer": "4"}  # no cost, reason or scores
    new = {"id": "q2", **PLAIN.to_json(), **Grading(False, None, "no answer").to_json()}
    _write_lines(output, [old, new])
    block = run_compute_metrics(MetricsConfig(benchmark_dir=str(output.parent)))["metrics"]["all"]
    assert (block["accuracy"], block["no_answer"]) == (50.0, 50.0)
    assert (block["avg_tokens"], block["sum_item_seconds"]) == (2.5, 0.25)  # the old line counts 0 of each
    _write_lines(output, [old, {**new, "num_generated_tokens": "5"}])
    with pytest.raises(DataError, match=rf"^{re.escape(str(output))}:2: 'num_generated_tokens' should be"):
        run_compute_metrics(MetricsConfig(benchmark_dir=str(output.parent)))
    _write_lines(output, [new, {**old, "predicted_answer": 4}])
    output.write_text("\n" + output.read_text(encoding="utf-8"), encoding="utf-8")  # an empty line still counts
    with pytest.raises(DataError, match=rf"^{re.escape(str(output))}:3: 'predicted_answer' should be"):
        run_compute_metrics(MetricsConfig(benchmark_dir=str(output.parent)))


def test_compute_metrics_names_the_record_of_a_bad_mapping() -> None:
    line = {"id": "q7", "is_correct": "yes", "predicted_answer": "4"}
    with pytest.raises(DataError, match=r"record 0 \(id 'q7'\) of seed 3: 'is_correct' should be true or false"):
        compute_metrics({3: [line]})


def test_the_answer_a_grader_reads_is_the_generation_or_nothing() -> None:
    assert Generated.answer_of({"generation": "x = 2"}) == "x = 2"
    assert Generated.answer_of({"generation": None}) == Generated.answer_of({}) == ""
    assert Generated.answer_of({"generation": ""}) == ""
