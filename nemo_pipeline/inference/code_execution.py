"""Code execution during generation: the model writes a ```python block, pauses, the sandbox runs it, and the
output goes back into the text before the model goes on.

Protocol (NeMo-Skills' format, so models trained on it work unchanged)::

    ...reasoning...
    ```python
    print(2 ** 10)
    ```
    ```output
    1024
    ```
    ...the model continues...

- Every request adds the stop string "```output" (kept to the caller's stops), so a model that would write
  its own output block pauses right there instead. Servers differ on whether the stop string is returned in the
  text; both are handled: a trailing "```output" is cut off before the text is inspected.
- After each step the step's text is inspected: if it ends with a just-closed python block (only whitespace
  after the closing fence), or inside an unclosed one while the server reported a stop (not "length"), that
  block's code runs in the sandbox (bounded by `timeout_s`) and "```output\\n<stdout+stderr>\\n```\\n" is appended.
  An unclosed block is closed first. A block followed by prose is never run: the model did not pause for it.
- Each block runs on its own (no state carried between blocks); prompts must ask for self-contained blocks.
- Continuation: completion mode sends prompt + text so far. Chat mode sends the messages plus one final
  assistant message holding the text so far, which servers continue as a prefill (llama.cpp's llama-server does
  so by default; vLLM, SGLang and recent llama-server do with `continue_final_message`, which
  `continue_final_message=True` adds to the request together with `add_generation_prompt: false`). The reply's text
  is appended to the transcript.
- Bounds: at most `max_executions` executions and `max_executions + 1` requests; the token budget
  `params.max_tokens` is shared by all steps (each request asks for what is left); a step that ends at the
  length limit ends the generation. Once `max_executions` blocks ran, the next request is sent without the
  "```output" stop, so the model writes to its natural end and no further block is run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from nemo_pipeline.inference.client import Completion, OpenAIClient, SamplingParams
from nemo_pipeline.sandbox import ExecutionResult, SandboxClient

__all__ = ["OUTPUT_FENCE", "CodeGeneration", "find_code_to_run", "format_output", "generate_with_code"]

OUTPUT_FENCE = "```output"
# An opening python fence: ```python, ```py or ```python3, then the end of the line.
_OPEN = re.compile(r"```[ \t]*(?:python3?|py)[ \t]*\n", re.IGNORECASE)
# A closing fence: a line holding only ``` (leading spaces allowed).
_CLOSE = re.compile(r"^[ \t]*```[ \t]*$", re.MULTILINE)
# Extra seconds past the sandbox client's own limit before an execution is abandoned as a timeout.
_HARD_MARGIN_S = 30.0


@dataclass(frozen=True)
class CodeGeneration:
    """One generation with code execution: `text` holds the model's text and the inserted output blocks."""

    text: str
    num_tokens: int
    finish_reason: str
    executions: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class CodeToRun:
    """What `find_code_to_run` found: the code and the step text to keep (ending with a closing fence + newline)."""

    code: str
    kept_text: str


@dataclass(frozen=True)
class _ContinueParams(SamplingParams):
    """SamplingParams plus the body fields that ask a server to continue the final assistant message."""

    def as_body(self) -> dict[str, Any]:
        return {**super().as_body(), "continue_final_message": True, "add_generation_prompt": False}


def _strip_output_fence(text: str) -> str:
    trimmed = text.rstrip()
    return trimmed[: -len(OUTPUT_FENCE)] if trimmed.endswith(OUTPUT_FENCE) else text


def find_code_to_run(step_text: str, finish_reason: str) -> CodeToRun | None:
    """The python block the model paused on at the end of `step_text`, or None when it did not pause on one.

    A trailing "```output" (servers that return the stop string) is ignored. A just-closed block counts; an
    unclosed one only when the server stopped (finish_reason "stop"), and it is closed in `kept_text`.
    """
    text = _strip_output_fence(step_text)
    openings = list(_OPEN.finditer(text))
    if not openings:
        return None
    opening = openings[-1]
    region = text[opening.end() :]
    closing = _CLOSE.search(region)
    if closing is not None:
        if region[closing.end() :].strip():
            return None  # prose after the block: the model went on without pausing
        code = region[: closing.start()]
        kept = text[: opening.end() + closing.start()] + "```\n"
    else:
        if finish_reason != "stop":
            return None  # cut by the length limit mid-block: nothing sensible to run
        code = region
        kept = text.rstrip() + "\n```\n" if code.strip() else text + "```\n"
    return CodeToRun(code, kept) if code.strip() else None


def format_output(result: ExecutionResult, max_output_chars: int) -> str:
    """The output block for one execution: stdout then stderr, cut to `max_output_chars` characters."""
    out = result.stdout + result.stderr
    if len(out) > max_output_chars:
        out = out[:max_output_chars] + f"\n[output cut to {max_output_chars} characters]"
    if result.process_status == "failed" and not out.strip():
        out = "[the sandbox could not run this code]"
    return f"{OUTPUT_FENCE}\n{out.rstrip(chr(10))}\n```\n"


async def _execute(sandbox: SandboxClient, code: str, timeout_s: float, max_output_chars: int) -> ExecutionResult:
    """Run `code`, never waiting longer than the sandbox client's limit plus a margin."""
    limit = timeout_s + sandbox.margin_s + _HARD_MARGIN_S
    try:
        return await asyncio.wait_for(
            sandbox.execute_async(code, language="python", timeout=timeout_s, max_output_characters=max_output_chars),
            timeout=limit,
        )
    except asyncio.TimeoutError:
        return ExecutionResult("timeout", "", f"no answer from the sandbox within {limit:g} s\n")


async def _step(
    client: OpenAIClient, prompt: str | list[dict[str, str]], text: str, params: SamplingParams, continue_flags: bool
) -> Completion:
    if isinstance(prompt, str):
        return await client.complete(prompt + text, params)
    if not text:
        return await client.chat(prompt, params)
    if continue_flags:
        params = _ContinueParams(**dataclasses.asdict(params))
    return await client.chat([*prompt, {"role": "assistant", "content": text}], params)


async def generate_with_code(
    client: OpenAIClient,
    prompt: str | list[dict[str, str]],
    params: SamplingParams,
    sandbox: SandboxClient,
    max_executions: int,
    timeout_s: float,
    max_output_chars: int = 2000,
    *,
    continue_final_message: bool = False,
) -> CodeGeneration:
    """Generate for `prompt`, running each python block the model pauses on in `sandbox` (see the module doc).

    `prompt` is a completion prompt (str) or chat messages. Raises what the client or sandbox raise
    (RequestError, SandboxError): a model server or sandbox that cannot be reached fails the item.
    """
    if params.max_tokens < 1:
        raise ValueError(f"params.max_tokens must be >= 1, got {params.max_tokens}")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    # The fence goes first: a request carries only the first MAX_SERVER_STOPS stop strings (the client cuts at the
    # rest), and the pause at a block must happen on the server, before it spends tokens on an output of its own.
    with_stop = (
        params if OUTPUT_FENCE in params.stop else dataclasses.replace(params, stop=(OUTPUT_FENCE, *params.stop))
    )
    text = ""
    used = 0
    executions: list[dict[str, str]] = []
    while True:
        can_run = len(executions) < max_executions
        step_params = dataclasses.replace(with_stop if can_run else params, max_tokens=params.max_tokens - used)
        completion = await _step(client, prompt, text, step_params, continue_final_message)
        used += completion.num_tokens
        found = find_code_to_run(completion.text, completion.finish_reason) if can_run else None
        if found is None or completion.finish_reason == "length":
            text += _strip_output_fence(completion.text) if can_run else completion.text
            return CodeGeneration(text, used, completion.finish_reason, tuple(executions))
        result = await _execute(sandbox, found.code, timeout_s, max_output_chars)
        status, stdout, stderr = result.process_status, result.stdout, result.stderr
        executions.append({"code": found.code, "process_status": status, "stdout": stdout, "stderr": stderr})
        text += found.kept_text + format_output(result, max_output_chars)
        if used >= params.max_tokens:
            return CodeGeneration(text, used, "length", tuple(executions))
