"""Multi-turn generation against the scripted OpenAI-compatible server: each turn sees the model's own answers."""

import asyncio
import dataclasses

import pytest

from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.inference import OpenAIClient, SamplingParams, load_prompt
from nemo_pipeline.inference.multiturn import generate_turns
from tests.fakes.openai_server import Script, ScriptedServer

PARAMS = SamplingParams(temperature=0.0, top_p=1.0, top_k=-1, max_tokens=64, seed=0)
ITEM = {
    "id": "mt-1",
    "problem": "Write a poem about cats.",
    "turns": ["Write a poem about cats.", "Now make it rhyme.", "Give it a title."],
    "subset": "writing",
}


def _run(url, prompt, item):
    async def go():
        client = OpenAIClient(url, "scripted-model", max_retries=2)
        try:
            return (await generate_turns(client, prompt, PARAMS, item)).to_json()
        finally:
            await client.aclose()

    return asyncio.run(go())


@pytest.mark.timeout(30)
def test_each_turn_carries_the_models_earlier_answers():
    script = Script(
        answers={"poem about cats": "Cats are soft and warm.", "rhyme": "Cats on mats.", "title": "Mat Cats"}
    )
    with ScriptedServer(script) as server:
        fields = _run(server.url, load_prompt("generic/chat"), ITEM)
    assert fields["generations"] == ["Cats are soft and warm.", "Cats on mats.", "Mat Cats"]
    assert fields["generation"] == "Mat Cats"
    assert fields["num_generated_tokens"] == 5 + 3 + 2  # the scripted server counts words
    assert fields["finish_reason"] == "stop"
    first, second, third = (r["messages"] for r in script.requests)
    assert first == [{"role": "user", "content": "Write a poem about cats."}]
    assert second == [
        {"role": "user", "content": "Write a poem about cats."},
        {"role": "assistant", "content": "Cats are soft and warm."},
        {"role": "user", "content": "Now make it rhyme."},
    ]
    assert third[:3] == second and third[3:] == [
        {"role": "assistant", "content": "Cats on mats."},
        {"role": "user", "content": "Give it a title."},
    ]
    assert {r["temperature"] for r in script.requests} == {0.0}


@pytest.mark.timeout(30)
def test_system_and_template_apply_once_and_per_turn():
    prompt = dataclasses.replace(load_prompt("generic/chat"), system="Be brief.", user="Q: {problem}")
    script = Script(default="ok")
    with ScriptedServer(script) as server:
        _run(server.url, prompt, {**ITEM, "turns": ITEM["turns"][:2]})
    second = script.requests[1]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert second[0]["content"] == "Be brief."
    assert second[1]["content"] == "Q: Write a poem about cats."
    assert second[3]["content"] == "Q: Now make it rhyme."


@pytest.mark.timeout(30)
def test_completion_prompt_and_bad_turns_are_refused_before_any_request():
    script = Script()
    with ScriptedServer(script) as server:
        with pytest.raises(ConfigError, match="chat-mode prompt"):
            _run(server.url, load_prompt("generic/math-fewshot"), ITEM)
        with pytest.raises(DataError, match="'turns' must be a non-empty list"):
            _run(server.url, load_prompt("generic/chat"), {**ITEM, "turns": []})
    assert script.requests == []
