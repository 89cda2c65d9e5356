"""The LLM-as-judge stage against a scripted OpenAI-compatible server acting as judge."""

import dataclasses
import json

import pytest

from nemo_pipeline.config import EvaluateConfig, JudgeConfig, ServerConfig, compose_config
from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.evaluation.judge_grader import grade_judge, grade_judge_pairwise
from nemo_pipeline.evaluation.judge_stage import (
    judge_checkpoint,
    judge_files,
    judge_overrides,
    judge_settings_file,
    run_judge,
)
from nemo_pipeline.inference import RequestError
from nemo_pipeline.jsonl import read_jsonl
from tests.fakes.openai_server import Script, ScriptedServer


def _judge(url, **extra):
    server = ServerConfig(server_type="openai", address=url, model="judge-model", start_timeout_s=5)
    return JudgeConfig(server=server, **extra)


def _single(n):
    return [
        {
            "id": f"q{i}",
            "problem": f"Question number {i}?",
            "generation": f"Answer number {i}.",
            "expected_answer": None,
        }
        for i in range(n)
    ]


MT_ITEMS = [
    {
        "id": "mt-bench-101",
        "problem": "Solve x + 1 = 3.",
        "expected_answer": None,
        "turns": ["Solve x + 1 = 3.", "Now solve x + 2 = 3."],
        "generations": ["FIRST-MATH-ANSWER x = 2", "SECOND-MATH-ANSWER x = 1"],
        "generation": "SECOND-MATH-ANSWER x = 1",
        "subset": "math",
        "needs_reference": True,
        "reference_answer": ["REF-ONE x = 2", "REF-TWO x = 1"],
    },
    {
        "id": "mt-bench-081",
        "problem": "Write a haiku.",
        "expected_answer": None,
        "turns": ["Write a haiku.", "Make it about rain."],
        "generations": ["HAIKU-ONE", "HAIKU-TWO"],
        "generation": "HAIKU-TWO",
        "subset": "writing",
        "needs_reference": False,
        "reference_answer": ["unused reference"],
    },
]


@pytest.mark.timeout(30)
def test_single_answers_are_judged_greedily_and_the_grader_reads_the_rating(tmp_path):
    script = Script(default="The answer is fine. Rating: [[8]]")
    with ScriptedServer(script) as server:
        judged = run_judge(_single(3), _judge(server.url, tokens_to_generate=77), tmp_path / "logs")
    assert [r["id"] for r in judged] == ["q0", "q1", "q2"]
    assert all(r["judge_generation"] == "The answer is fine. Rating: [[8]]" for r in judged)
    assert all(r["judge_model"] == "judge-model" and "judge_error" not in r for r in judged)
    assert {(r["temperature"], r["max_tokens"], r["model"]) for r in script.requests} == {(0.0, 77, "judge-model")}
    messages = next(r["messages"] for r in script.requests if "Answer number 1." in r["messages"][-1]["content"])
    assert messages[0]["role"] == "system"
    assert "Question number 1?" in messages[-1]["content"] and "Reference" not in messages[-1]["content"]
    verdict = grade_judge(judged[1])
    assert (verdict.correct, verdict.predicted, verdict.scores["judge_rating"]) == (True, "8", 8.0)


@pytest.mark.timeout(30)
def test_mt_bench_judges_each_turn_with_context_and_references(tmp_path):
    script = Script(answers={"SECOND-MATH-ANSWER": "Wrong. Rating: [[3]]"}, default="Rating: [[8]]")
    with ScriptedServer(script) as server:
        judged = {r["id"]: r for r in run_judge(MT_ITEMS, _judge(server.url), tmp_path / "logs")}
    assert len(script.requests) == 4
    math_item = judged["mt-bench-101"]
    assert math_item["judge_generation"] == ["Rating: [[8]]", "Wrong. Rating: [[3]]"]
    prompts = [r["messages"][-1]["content"] for r in script.requests]
    turn2 = next(p for p in prompts if "SECOND-MATH-ANSWER" in p)
    # The follow-up is judged with the first turn (question and the model's own answer) and its own reference.
    assert "Solve x + 1 = 3." in turn2 and "FIRST-MATH-ANSWER" in turn2 and "Now solve x + 2 = 3." in turn2
    assert "REF-TWO" in turn2 and "REF-ONE" not in turn2
    writing = [p for p in prompts if "HAIKU" in p]
    assert len(writing) == 2 and not any("Reference" in p or "unused reference" in p for p in writing)
    verdict = grade_judge(math_item)
    assert verdict.scores["judge_rating"] == pytest.approx(5.5)
    assert (verdict.scores["judge_rating_turn1"], verdict.scores["judge_rating_turn2"]) == (8.0, 3.0)
    assert grade_judge(judged["mt-bench-081"]).scores["judge_rating"] == 8.0


@pytest.mark.timeout(30)
def test_unparseable_verdicts_are_recorded_not_dropped(tmp_path):
    with ScriptedServer(Script(default="This answer is nice and also good.")) as server:
        judged = run_judge(_single(2), _judge(server.url), tmp_path / "logs")
    assert [r["judge_generation"] for r in judged] == ["This answer is nice and also good."] * 2
    verdict = grade_judge(judged[0])
    assert (verdict.predicted, verdict.reason, verdict.scores) == (None, "unparseable", {"judge_unparseable": 1.0})


@pytest.mark.timeout(30)
def test_judged_records_and_checkpointed_ones_are_not_asked_again(tmp_path):
    checkpoint = tmp_path / "output.jsonl.judge"
    records = _single(4)
    records[0] = {**records[0], "judge_generation": "Rating: [[2]]"}
    script = Script(default="Rating: [[9]]")
    with ScriptedServer(script) as server:
        first = run_judge(records, _judge(server.url), tmp_path / "logs", checkpoint=checkpoint)
        assert len(script.requests) == 3
        assert first[0]["judge_generation"] == "Rating: [[2]]"
        # A kill mid-write leaves a torn last line: that record is dropped and judged again, the rest are kept.
        checkpoint.write_text(checkpoint.read_text() + '{"id": "q9", "judge_gen')
        again = run_judge(records, _judge(server.url), tmp_path / "logs", checkpoint=checkpoint)
        assert len(script.requests) == 3
    assert again == first
    assert sorted(json.loads(line)["id"] for line in checkpoint.read_text().splitlines()) == ["q1", "q2", "q3"]
    # Nothing left to judge: no server is needed, so an unreachable address is never contacted.
    done = run_judge(first, _judge("http://127.0.0.1:9/v1"), tmp_path / "logs")
    assert done == first


@pytest.mark.timeout(30)
def test_failed_requests_are_marked_and_retried_on_the_next_run(tmp_path):
    script = Script(default="Rating: [[6]]", fail_first=1)
    with ScriptedServer(script) as server:
        cfg = _judge(server.url, max_retries=0, max_concurrent_requests=1)
        first = run_judge(_single(2), cfg, tmp_path / "logs")
        failed = [r for r in first if r.get("judge_error")]
        assert len(failed) == 1 and failed[0]["judge_generation"] is None and "503" in failed[0]["judge_error"]
        second = run_judge(first, cfg, tmp_path / "logs")
        assert len(script.requests) == 3
    assert [r["judge_generation"] for r in second] == ["Rating: [[6]]"] * 2
    assert not any("judge_error" in r for r in second)


@pytest.mark.timeout(30)
def test_every_request_failing_is_an_error(tmp_path):
    with (
        ScriptedServer(Script(fail_first=100)) as server,
        pytest.raises(RequestError, match="every one of 2 request"),
    ):
        run_judge(_single(2), _judge(server.url, max_retries=0), tmp_path / "logs")


@pytest.mark.timeout(30)
def test_pairwise_judges_both_orders(tmp_path):
    records = [{**r, "generation": "GOOD-ANSWER", "baseline_answer": "BASE-ANSWER"} for r in _single(1)]
    script = Script(answers={"Assistant A's Answer]\nGOOD": "[[A]]", "Assistant A's Answer]\nBASE": "[[B]]"})
    with ScriptedServer(script) as server:
        (judged,) = run_judge(records, _judge(server.url, mode="pairwise"), tmp_path / "logs")
    assert (judged["judge_generation"], judged["judge_generation_swapped"]) == ("[[A]]", "[[B]]")
    verdict = grade_judge_pairwise(judged)
    assert (verdict.correct, verdict.predicted) == (True, "A")


@pytest.mark.timeout(30)
def test_bad_settings_and_data_fail_before_any_request(tmp_path):
    script = Script()
    with ScriptedServer(script) as server:
        with pytest.raises(ConfigError, match=r"judge\.mode"):
            run_judge(_single(1), _judge(server.url, mode="bogus"), tmp_path)
        with pytest.raises(ConfigError, match="prompt_config 'judge/nope'"):
            run_judge(_single(1), _judge(server.url, prompt_config="judge/nope"), tmp_path)
        with pytest.raises(DataError, match="pairwise judging of multi-turn"):
            run_judge(MT_ITEMS, _judge(server.url, mode="pairwise"), tmp_path)
        with pytest.raises(DataError, match="baseline answer"):
            run_judge(_single(1), _judge(server.url, mode="pairwise"), tmp_path)
        with pytest.raises(DataError, match="'generations'"):
            run_judge([{**MT_ITEMS[0], "generations": ["only one"]}], _judge(server.url), tmp_path)
    assert script.requests == []


@pytest.mark.timeout(30)
def test_judge_files_rewrites_each_output_file(tmp_path):
    paths = [tmp_path / "output-rs0.jsonl", tmp_path / "output-rs1.jsonl"]
    for path in paths:
        path.write_text("".join(json.dumps(r) + "\n" for r in _single(2)))
    with ScriptedServer(Script(default="Rating: [[7]]")) as server:
        judge_files(paths, _judge(server.url), tmp_path / "logs")
        assert len(server.script.requests) == 4
    for path in paths:
        assert [r["judge_generation"] for r in read_jsonl(path)] == ["Rating: [[7]]"] * 2
        assert judge_checkpoint(path).exists()


@pytest.mark.timeout(30)
def test_judge_settings_compose_as_overrides():
    cfg = compose_config(
        EvaluateConfig,
        "evaluate",
        ["++input_files=[a.jsonl]", "++grader=judge", "++judge.server.address=http://h:1/v1", "++judge.mode=pairwise"],
    )
    # Temperature and token budget unset: the judge protocol's own (FastChat's 0 and 2048 for mt-bench, ...).
    assert (cfg.judge.server.address, cfg.judge.mode, cfg.judge.temperature) == ("http://h:1/v1", "pairwise", None)
    assert cfg.judge.tokens_to_generate is None
    with pytest.raises(ConfigError, match=r"judge\.tempreature"):
        compose_config(EvaluateConfig, "evaluate", ["++input_files=[a.jsonl]", "++judge.tempreature=1"])


@pytest.mark.timeout(30)
def test_judge_overrides_round_trip_through_the_evaluate_schema():
    from nemo_pipeline.jobs.eval_graph import hydra_value

    judge = _judge("http://127.0.0.1:1234/v1", mode="pairwise", tokens_to_generate=99, prompt_config="judge/pairwise")
    overrides = [f"++{key}={hydra_value(value)}" for key, value in judge_overrides(judge).items()]
    cfg = compose_config(EvaluateConfig, "evaluate", ["++input_files=[a.jsonl]", *overrides])
    assert cfg.judge == judge


@pytest.mark.timeout(60)
def test_another_judge_judges_again_and_the_same_judge_does_not(tmp_path):
    output = tmp_path / "output.jsonl"
    output.write_text(
        "".join(json.dumps({"id": f"q{i}", "problem": f"Question {i}?", "generation": "An answer."}) + "\n"
                for i in range(3))
    )  # fmt: skip
    first_judge, second_judge = Script(default="Rating: [[8]]"), Script(default="Rating: [[3]]")
    with ScriptedServer(first_judge) as first, ScriptedServer(second_judge) as second:
        judge_files([output], _judge(first.url), tmp_path / "logs")
        judge_files([output], _judge(first.url), tmp_path / "logs")  # same settings: nothing asked again
        assert len(first.script.requests) == 3
        assert {r["judge_generation"] for r in read_jsonl(output)} == {"Rating: [[8]]"}
        # Another judge model: every record is judged again, and the earlier checkpoint is not reused.
        base = _judge(second.url)
        other = dataclasses.replace(base, server=dataclasses.replace(base.server, model="judge-b"))
        judge_files([output], other, tmp_path / "logs")
        assert len(second.script.requests) == 3
        assert {r["judge_generation"] for r in read_jsonl(output)} == {"Rating: [[3]]"}
        assert json.loads(judge_settings_file(output).read_text())["judge.server.model"] == "judge-b"
