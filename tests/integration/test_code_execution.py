"""Code execution during generation: a scripted model server (multi-step replies, real stop handling) and a REAL
sandbox (bubblewrap, unprivileged uids) running the model's code."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from nemo_pipeline.inference.client import OpenAIClient, SamplingParams
from nemo_pipeline.inference.code_execution import OUTPUT_FENCE, CodeGeneration, generate_with_code
from nemo_pipeline.sandbox import LocalSandbox, SandboxClient
from tests.fakes.openai_server import Script, ScriptedServer

PROMPT = "Question: What is 6 times 7?\nAnswer:"
MESSAGES = [{"role": "system", "content": "Use python."}, {"role": "user", "content": "What is 6 times 7?"}]


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with LocalSandbox(workers=2, start_timeout_s=60) as sandbox:
        yield sandbox.url


def _params(max_tokens: int = 200, stop: tuple[str, ...] = ("\n\nQuestion:",)) -> SamplingParams:
    return SamplingParams(temperature=0.0, top_p=1.0, top_k=-1, max_tokens=max_tokens, seed=0, stop=stop)


def _steps(segments: list[str], prompt_of: Callable[[dict[str, Any]], str]) -> Callable[[str, dict[str, Any]], str]:
    """A model that writes segments[k] once k output blocks are in its context (the last one repeats)."""

    def respond(path: str, body: dict[str, Any]) -> str:
        seen = prompt_of(body).count(OUTPUT_FENCE)
        return segments[min(seen, len(segments) - 1)]

    return respond


def _completion_prompt(body: dict[str, Any]) -> str:
    return str(body["prompt"])


def _chat_prompt(body: dict[str, Any]) -> str:
    return "".join(m["content"] for m in body["messages"])


def _run(
    script: Script,
    sandbox_url: str,
    prompt: str | list[dict[str, str]] = PROMPT,
    params: SamplingParams | None = None,
    max_executions: int = 4,
    timeout_s: float = 10.0,
    **kwargs: Any,
) -> tuple[CodeGeneration, list[dict[str, Any]]]:
    async def go(url: str) -> CodeGeneration:
        client = OpenAIClient(url, "scripted-model", timeout_s=60, max_retries=0)
        sandbox = SandboxClient(sandbox_url)
        try:
            return await generate_with_code(
                client, prompt, params or _params(), sandbox, max_executions, timeout_s, **kwargs
            )
        finally:
            await client.aclose()
            await sandbox.aclose()

    with ScriptedServer(script) as server:
        result = asyncio.run(go(server.url))
    return result, script.requests


# The model would hallucinate "41" if the server did not stop it at "```output".
FIRST = "Let me compute.\n```python\nprint(6 * 7)\n```\n```output\n41\n```\nSo it is 41."
SECOND = "\nThe product is 42. The answer is 42."


@pytest.mark.timeout(60)
def test_the_server_pauses_at_a_block_even_with_many_stop_strings(sandbox_url):
    # Five stop strings of the caller: a request carries four, and the fence must be among them, so the server (not
    # the client's cut) pauses the model at the block, before it writes an output of its own.
    stops = ("\nclass", "\ndef", "\n#", "\nif", "\nQuestion:")
    script = Script(responder=_steps([FIRST, SECOND], _completion_prompt), apply_stop=True)
    result, requests = _run(script, sandbox_url, params=_params(stop=stops))
    assert requests[0]["stop"][0] == OUTPUT_FENCE and len(requests[0]["stop"]) == 4
    assert "41" not in result.text and "```output\n42\n```" in result.text


@pytest.mark.timeout(60)
@pytest.mark.parametrize("include_stop", [False, True], ids=["stop-excluded", "stop-included"])
def test_output_of_the_code_appears_in_the_transcript(sandbox_url, include_stop):
    script = Script(responder=_steps([FIRST, SECOND], _completion_prompt), apply_stop=True, include_stop=include_stop)
    result, requests = _run(script, sandbox_url)
    head = "Let me compute.\n```python\nprint(6 * 7)\n```\n"
    assert result.text == head + "```output\n42\n```\n" + SECOND
    assert "41" not in result.text
    assert result.executions == (
        {"code": "print(6 * 7)\n", "process_status": "completed", "stdout": "42\n", "stderr": ""},
    )
    assert len(requests) == 2
    assert requests[0]["stop"] == [OUTPUT_FENCE, "\n\nQuestion:"]  # the caller's stops are kept, after the fence
    assert requests[1]["prompt"] == PROMPT + head + "```output\n42\n```\n"  # completion mode: prompt + text so far
    assert result.finish_reason == "stop"
    # The scripted server counts words (a returned stop string is one more); the steps are summed and the second
    # asked only for what was left.
    first_tokens = len(head.split()) + (1 if include_stop else 0)
    assert result.num_tokens == first_tokens + len(SECOND.split())
    assert requests[1]["max_tokens"] == 200 - first_tokens


@pytest.mark.timeout(60)
@pytest.mark.parametrize("continue_flags", [False, True])
def test_chat_mode_continues_the_assistant_message(sandbox_url, continue_flags):
    script = Script(responder=_steps([FIRST, SECOND], _chat_prompt), apply_stop=True)
    result, requests = _run(script, sandbox_url, prompt=MESSAGES, continue_final_message=continue_flags)
    partial = "Let me compute.\n```python\nprint(6 * 7)\n```\n```output\n42\n```\n"
    assert result.text == partial + SECOND
    assert requests[0]["messages"] == MESSAGES
    assert requests[1]["messages"] == [*MESSAGES, {"role": "assistant", "content": partial}]
    assert "continue_final_message" not in requests[0]  # the first request is a plain chat request
    if continue_flags:
        assert requests[1]["continue_final_message"] is True and requests[1]["add_generation_prompt"] is False
    else:
        assert "continue_final_message" not in requests[1]


@pytest.mark.timeout(60)
def test_the_execution_limit_is_honoured(sandbox_url):
    # A model that writes one more block after every output it sees, forever.
    def respond(path: str, body: dict[str, Any]) -> str:
        k = body["prompt"].count(OUTPUT_FENCE)
        return f"Step {k}.\n```python\nprint({k} * 100)\n```\n```output\n-1\n```\n"

    script = Script(responder=respond, apply_stop=True)
    result, requests = _run(script, sandbox_url, max_executions=2)
    assert [e["stdout"] for e in result.executions] == ["0\n", "100\n"]
    assert len(requests) == 3  # max_executions + 1 requests, never more
    assert OUTPUT_FENCE in requests[1]["stop"] and OUTPUT_FENCE not in requests[2]["stop"]
    # The third block is left as the model wrote it; it never ran (200 is nowhere in the transcript).
    assert result.text.endswith("Step 2.\n```python\nprint(2 * 100)\n```\n```output\n-1\n```\n")
    assert "200" not in result.text


@pytest.mark.timeout(60)
def test_zero_executions_is_plain_generation(sandbox_url):
    script = Script(responder=_steps([FIRST], _completion_prompt), apply_stop=True)
    result, requests = _run(script, sandbox_url, max_executions=0)
    assert result.text == FIRST and result.executions == ()
    assert len(requests) == 1 and OUTPUT_FENCE not in requests[0]["stop"]


@pytest.mark.timeout(90)
def test_a_code_block_that_loops_forever_times_out_and_generation_goes_on(sandbox_url):
    loop = "Try this.\n```python\nprint('started', flush=True)\nwhile True:\n    pass\n```\n```output\n"
    after = "\nThat never finished; the answer is 42."
    script = Script(responder=_steps([loop, after], _completion_prompt), apply_stop=True)
    started = time.monotonic()
    result, requests = _run(script, sandbox_url, timeout_s=2.0)
    elapsed = time.monotonic() - started
    assert [e["process_status"] for e in result.executions] == ["timeout"]
    assert result.executions[0]["stdout"] == "started\n"
    assert len(requests) == 2 and result.text.endswith(after)
    output_block = result.text.split("```output\n", 1)[1].split("\n```\n", 1)[0]
    assert output_block.startswith("started") and "timed out" in output_block
    assert elapsed < 2.0 + 15.0, elapsed  # bounded by timeout_s, not by the loop


@pytest.mark.timeout(60)
def test_no_code_answers_pass_straight_through(sandbox_url):
    answer = "6 * 7 = 42. The answer is 42.\n```\nnot python, never run\n```\n"
    script = Script(responder=lambda path, body: answer, apply_stop=True)
    result, requests = _run(script, sandbox_url)
    assert result == CodeGeneration(answer, len(answer.split()), "stop", ())
    assert len(requests) == 1


@pytest.mark.timeout(60)
def test_errors_and_long_output_are_shown_cut(sandbox_url):
    first = "```python\nprint('x' * 5000)\nraise ValueError('bad value')\n```\n"
    script = Script(responder=_steps([first, "Done."], _completion_prompt), apply_stop=True)
    result, _ = _run(script, sandbox_url, max_output_chars=300)
    (execution,) = result.executions
    assert execution["process_status"] == "error"
    output_block = result.text.split("```output\n", 1)[1].split("\n```\n", 1)[0]
    assert len(output_block) < 400
    assert "[output cut to 300 characters]" in output_block
    assert result.text.endswith("```\nDone.")


@pytest.mark.timeout(60)
def test_a_block_the_model_did_not_close_is_closed_and_run(sandbox_url):
    # The model writes "```output" where the closing fence belongs: the server stops inside the open block.
    first = "```python\nprint(sum(range(10)))\n```output\n"
    script = Script(responder=_steps([first, "The sum is 45."], _completion_prompt), apply_stop=True)
    result, _ = _run(script, sandbox_url)
    assert result.text == "```python\nprint(sum(range(10)))\n```\n```output\n45\n```\nThe sum is 45."


@pytest.mark.timeout(60)
def test_the_token_budget_is_shared_by_all_steps(sandbox_url):
    # 6 words, then a block; the continuation would be 30 words but only 10 - 6 = 4 are left.
    first = "one two three\n```python\nprint(1)\n```\n"
    long_tail = " ".join(f"w{i}" for i in range(30))
    script = Script(responder=_steps([first, long_tail], _completion_prompt), apply_stop=True, apply_max_tokens=True)
    result, requests = _run(script, sandbox_url, params=_params(max_tokens=10))
    assert [r["max_tokens"] for r in requests] == [10, 4]
    assert result.num_tokens == 10 and result.finish_reason == "length"
    assert result.text.endswith("```output\n1\n```\nw0 w1 w2 w3")
