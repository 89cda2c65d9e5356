"""More stop strings than a request may carry (HumanEval's five; vLLM refuses more than four with HTTP 400): the
request carries the first four, and the client cuts the text at the others, giving the text a server honouring all
of them returns."""

from __future__ import annotations

import asyncio

import pytest

from nemo_pipeline.inference.client import MAX_SERVER_STOPS, OpenAIClient, SamplingParams
from tests.fakes.openai_server import Script, ScriptedServer

HUMANEVAL_STOPS = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")


def _ask(url: str, stop: tuple[str, ...], chat: bool) -> tuple[str, str]:
    async def run() -> tuple[str, str]:
        client = OpenAIClient(url, "m", max_connections=1)
        params = SamplingParams(temperature=0.0, top_p=1.0, top_k=0, max_tokens=64, seed=0, stop=stop)
        try:
            if chat:
                done = await client.chat([{"role": "user", "content": "q"}], params)
            else:
                done = await client.complete("q", params)
        finally:
            await client.aclose()
        return done.text, done.finish_reason

    return asyncio.run(asyncio.wait_for(run(), 30))


@pytest.mark.parametrize("chat", [False, True])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("    return 1\nprint(f(1))\nif x:\n", "    return 1"),  # the fifth stop, beyond the request's, comes first
        ("    return 1\nif x:\nprint(f(1))\n", "    return 1"),  # a stop the server honours comes first
        ("    return 1\n", "    return 1\n"),  # no stop at all
    ],
)
def test_stops_beyond_the_requests_limit_cut_the_text_as_the_server_would(text: str, expected: str, chat: bool):
    script = Script(default=text, apply_stop=True)
    with ScriptedServer(script) as server:
        got, finish = _ask(server.url, HUMANEVAL_STOPS, chat)
    assert got == expected
    assert finish == "stop"
    (request,) = script.requests
    assert request["stop"] == list(HUMANEVAL_STOPS[:MAX_SERVER_STOPS]) and MAX_SERVER_STOPS == 4
