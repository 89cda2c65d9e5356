"""The benchmarks' own judge protocols through the stages, against scripted servers: MT-Bench (FastChat's prompts
and judge settings) and MT-Bench-101 (answers after the golden history, OpenCompass's prompts)."""

from __future__ import annotations

import asyncio
import json

import pytest

from nemo_pipeline.config import JudgeConfig, ServerConfig
from nemo_pipeline.datasets.benchmarks._opencompass import OPENCOMPASS
from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.evaluation import GRADERS, register_grader
from nemo_pipeline.evaluation._judge_protocol import JudgeProtocol
from nemo_pipeline.evaluation.judge_stage import graded_by, judge_files, judge_settings_file, run_judge
from nemo_pipeline.evaluation.mt_bench_101_grader import grade_mt_bench_101, render_mt_bench_101
from nemo_pipeline.evaluation.mt_bench_grader import grade_mt_bench, render_mt_bench
from nemo_pipeline.inference import OpenAIClient, SamplingParams, load_prompt
from nemo_pipeline.inference.multiturn import generate_turns
from nemo_pipeline.jsonl import read_jsonl
from tests.conftest import require
from tests.fakes.openai_server import Script, ScriptedServer

MT_BENCH_ITEMS = [
    {
        "id": "mt-bench-111",
        "problem": "Solve x + 1 = 3.",
        "turns": ["Solve x + 1 = 3.", "Now solve x + 2 = 3."],
        "generations": ["FIRST-MATH-ANSWER x = 2", "SECOND-MATH-ANSWER x = 1"],
        "subset": "math",
        "needs_reference": True,
        "reference_answer": ["REF-ONE x = 2", "REF-TWO x = 1"],
    },
    {
        "id": "mt-bench-081",
        "problem": "Write a haiku.",
        "turns": ["Write a haiku.", "Make it about rain."],
        "generations": ["HAIKU-ONE", "HAIKU-TWO"],
        "subset": "writing",
        "needs_reference": False,
        "reference_answer": None,
    },
]


def _judge(url: str, **extra: object) -> JudgeConfig:
    server = ServerConfig(server_type="openai", address=url, model="judge-model", start_timeout_s=5)
    return JudgeConfig(server=server, **extra)  # type: ignore[arg-type]


@pytest.mark.timeout(60)
def test_mt_bench_is_judged_with_fastchats_prompts_and_settings(tmp_path):
    script = Script(answers={"SECOND-MATH-ANSWER": "Wrong. [[2]]"}, default="Rating: [[8]] not [[1]]")
    with ScriptedServer(script) as server:
        judged = run_judge(MT_BENCH_ITEMS, _judge(server.url), tmp_path, grader="mt-bench")
    assert len(script.requests) == 4
    assert {(r["temperature"], r["max_tokens"]) for r in script.requests} == {(0.0, 2048)}
    sent = [r["messages"] for r in script.requests]
    for item in MT_BENCH_ITEMS:
        for chat in render_mt_bench(item):
            assert chat in sent
    math_turn2 = render_mt_bench(MT_BENCH_ITEMS[0])[1][-1]["content"]
    # FastChat's multi-turn prompt: both questions, both answers and both reference turns.
    assert all(text in math_turn2 for text in ("FIRST-MATH", "SECOND-MATH", "REF-ONE", "REF-TWO", "x + 2 = 3"))
    verdict = grade_mt_bench(judged[0])
    assert verdict.scores == {"mt_bench_turn1": 8.0, "mt_bench_turn2": 2.0, "mt_bench_turns_rated": 2.0}
    assert (verdict.predicted, verdict.correct) == ("8,2", False)


@pytest.mark.timeout(60)
def test_set_judge_settings_override_the_protocols(tmp_path):
    script = Script(default="[[5]]")
    with ScriptedServer(script) as server:
        run_judge(MT_BENCH_ITEMS[1:], _judge(server.url, tokens_to_generate=64, temperature=0.5), tmp_path,
                  grader="mt-bench")  # fmt: skip
    assert {(r["temperature"], r["max_tokens"]) for r in script.requests} == {(0.5, 64)}


@pytest.mark.timeout(60)
def test_a_protocol_grader_ignores_judge_mode_and_another_protocol_judges_again(tmp_path):
    judge = _judge("http://127.0.0.1:9/v1", mode="pairwise")
    assert graded_by("mt-bench", judge) == "mt-bench" and graded_by("judge", judge) == "judge_pairwise"
    with pytest.raises(ConfigError, match=r"judge\.mode=pairwise"):
        run_judge(MT_BENCH_ITEMS, judge, tmp_path, grader="judge")
    output = tmp_path / "output.jsonl"
    output.write_text("".join(json.dumps(item) + "\n" for item in MT_BENCH_ITEMS))
    first, second = Script(default="Rating: [[6]]"), Script(default="[[9]]")
    with ScriptedServer(first) as one, ScriptedServer(second) as two:
        judge_files([output], _judge(one.url), tmp_path / "logs")  # the project's prompts (judge.mode=single)
        judge_files([output], _judge(two.url), tmp_path / "logs", grader="mt-bench")
        judge_files([output], _judge(two.url), tmp_path / "logs", grader="mt-bench")  # nothing asked again
    assert (len(first.requests), len(second.requests)) == (4, 4)
    assert {tuple(r["judge_generation"]) for r in read_jsonl(output)} == {("[[9]]", "[[9]]")}
    assert json.loads(judge_settings_file(output).read_text())["judge.protocol"] == "mt-bench"


@pytest.fixture
def opencompass_texts() -> None:
    """OpenCompass's judge texts come from its pinned wheel (downloaded once into the cache)."""
    try:
        OPENCOMPASS.wheel_path()
    except DataError as exc:
        require(OPENCOMPASS.description, False, f"pip must reach a package index: {exc}")


DIALOGUE = {
    "id": "mt-bench-101-CM-7",
    "problem": "And her age?",
    "turns": ["My cat is Pixel, three years old.", "What is her name?", "And her age?"],
    "history": [
        {"user": "My cat is Pixel, three years old.", "bot": "GOLDEN-ONE"},
        {"user": "What is her name?", "bot": "GOLDEN-TWO"},
        {"user": "And her age?", "bot": "GOLDEN-THREE"},
    ],
    "subset": "CM",
    "task": "CM",
    "dialogue_id": 7,
    "judged_turns": [1, 2],
    "history_mode": "golden",
}


@pytest.mark.timeout(60)
def test_mt_bench_101_answers_after_the_golden_history_then_is_judged_per_turn(tmp_path, opencompass_texts):
    model = Script(answers={"her name": "MODEL-NAME", "her age": "MODEL-AGE"})
    params = SamplingParams(temperature=0.0, top_p=1.0, top_k=-1, max_tokens=64, seed=0)

    async def generate(url: str) -> dict:
        client = OpenAIClient(url, "scripted-model", max_retries=0)
        try:
            return (await generate_turns(client, load_prompt("generic/chat"), params, DIALOGUE)).to_json()
        finally:
            await client.aclose()

    with ScriptedServer(model) as server:
        fields = asyncio.run(generate(server.url))
    assert fields["generations"] == [None, "MODEL-NAME", "MODEL-AGE"]  # the first CM turn is context only
    assert sorted(len(r["messages"]) for r in model.requests) == [3, 5]
    last = max((r["messages"] for r in model.requests), key=len)
    assert [m["content"] for m in last if m["role"] == "assistant"] == ["GOLDEN-ONE", "GOLDEN-TWO"]  # not its own
    record = {**DIALOGUE, **fields}
    judge = Script(answers={"MODEL-NAME": "Rating: [[9]]"}, default="Good, [4] out of ten")
    with ScriptedServer(judge) as server:
        (judged,) = run_judge([record], _judge(server.url), tmp_path, grader="mt-bench-101")
    assert {(r["temperature"], r["max_tokens"]) for r in judge.requests} == {(0.8, 4096)}
    assert sorted(json.dumps(r["messages"]) for r in judge.requests) == sorted(
        json.dumps(chat) for chat in render_mt_bench_101(record)
    )
    assert judged["judge_generation"] == ["Rating: [[9]]", "Good, [4] out of ten"]
    verdict = grade_mt_bench_101(judged)
    assert (verdict.predicted, verdict.scores) == ("4", {"mt_bench_101_turns_rated": 2.0, "mt_bench_101_dialogue": 4.0})


@pytest.mark.timeout(60)
def test_a_new_grader_with_its_own_protocol_is_judged_with_it_from_its_spec_alone(tmp_path):
    """One module's `register_grader(name, judge=JudgeProtocol(...))` is all the judge stage needs."""
    protocol = JudgeProtocol(
        grader="test-own-protocol",
        render=lambda record: [[{"role": "user", "content": f"RATE-THIS {record['generation']}"}]],
        max_tokens=77,
        temperature=0.3,
    )
    register_grader("test-own-protocol", judge=protocol)(grade_mt_bench)
    try:
        assert GRADERS.get("test-own-protocol").judge == "test-own-protocol"
        script = Script(default="[[4]]")
        with ScriptedServer(script) as server:
            judged = run_judge([{"id": "1", "generation": "ANSWER-1"}], _judge(server.url), tmp_path,
                               grader="test-own-protocol")  # fmt: skip
        assert [r["messages"][-1]["content"] for r in script.requests] == ["RATE-THIS ANSWER-1"]
        assert {(r["temperature"], r["max_tokens"]) for r in script.requests} == {(0.3, 77)}
        assert judged[0]["judge_generation"] == "[[4]]"  # one chat: one output
        with pytest.raises(ValueError, match="names the grader 'test-own-protocol'"):
            register_grader("test-other-name", judge=protocol)
    finally:
        GRADERS._entries.pop("test-own-protocol")
