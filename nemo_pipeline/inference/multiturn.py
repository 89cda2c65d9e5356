"""Multi-turn generation: send an item's user `turns` one after the other, keeping the model's own answers in the
conversation (MT-Bench style). The generate stage calls `generate_turns` for items that have `turns`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.inference.client import OpenAIClient, SamplingParams
from nemo_pipeline.inference.prompts import PromptConfig

__all__ = ["generate_turns", "item_turns"]


def item_turns(item: Mapping[str, Any]) -> list[str]:
    """The item's user turns; DataError when `turns` is not a non-empty list of strings."""
    turns = item.get("turns")
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
        raise DataError(f"item {item.get('id')!r}: 'turns' must be a non-empty list of strings, got {turns!r}")
    return list(turns)


async def generate_turns(
    client: OpenAIClient, prompt: PromptConfig, params: SamplingParams, item: Mapping[str, Any]
) -> dict[str, Any]:
    """Answer every turn of `item` in one conversation and return the fields to merge into its record.

    The first turn is rendered with the whole prompt config (system text, few-shot examples) with `problem` set to
    the turn; each later turn is the user template alone, appended after the model's previous answer. Returns
    `generation` (the last answer), `generations` (one answer per turn), `num_generated_tokens` (their sum) and
    `finish_reason` (of the last turn).
    """
    if prompt.mode != "chat":
        raise ConfigError(
            f"{prompt.source or 'prompt'}: multi-turn item {item.get('id')!r} needs a chat-mode prompt "
            f"(mode: chat), got mode {prompt.mode!r}; use prompt_config=generic/chat"
        )
    turns = item_turns(item)
    follow_up = dataclasses.replace(prompt, system="", few_shot_examples=())
    messages: list[dict[str, str]] = []
    answers: list[str] = []
    tokens = 0
    finish_reason = ""
    for number, turn in enumerate(turns):
        fields = {**item, "problem": turn}
        rendered = prompt.render(fields) if number == 0 else follow_up.render(fields)
        assert isinstance(rendered, list)  # chat mode renders messages
        messages.extend(rendered if number == 0 else rendered[-1:])
        completion = await client.chat(list(messages), params)
        messages.append({"role": "assistant", "content": completion.text})
        answers.append(completion.text)
        tokens += completion.num_tokens
        finish_reason = completion.finish_reason
    return {
        "generation": answers[-1],
        "generations": answers,
        "num_generated_tokens": tokens,
        "finish_reason": finish_reason,
    }
