"""Multi-turn generation. The generate stage calls `generate_turns` for items that have `turns`:

- by default the user `turns` are sent one after the other, keeping the model's own answers in the conversation
  (MT-Bench, FastChat's gen_model_answer);
- items with `history_mode: "golden"` (MT-Bench-101, OpenCompass's ChatInferencer with infer_mode="last") have each
  of their `judged_turns` answered on its own, after the dataset's golden `history` (the earlier user turns with
  their reference `bot` answers); turns not judged get no answer (None).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.inference.client import OpenAIClient, SamplingParams
from nemo_pipeline.inference.prompts import PromptConfig
from nemo_pipeline.records import Generated

__all__ = ["GOLDEN", "generate_turns", "golden_messages", "item_turns"]

GOLDEN = "golden"


def item_turns(item: Mapping[str, Any]) -> list[str]:
    """The item's user turns; DataError when `turns` is not a non-empty list of strings."""
    turns = item.get("turns")
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
        raise DataError(f"item {item.get('id')!r}: 'turns' must be a non-empty list of strings, got {turns!r}")
    return list(turns)


async def generate_turns(
    client: OpenAIClient, prompt: PromptConfig, params: SamplingParams, item: Mapping[str, Any]
) -> Generated:
    """Answer every turn of `item` in one conversation and return what to merge into its line (its time is the
    caller's to set).

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
    if item.get("history_mode") == GOLDEN:
        return await _golden_turns(client, prompt, params, item, turns)
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
    return Generated(answers[-1], tokens, finish_reason, generations=tuple(answers))


def _judged_turns(item: Mapping[str, Any], turns: list[str]) -> list[int]:
    judged = item.get("judged_turns", list(range(len(turns))))
    if (
        not isinstance(judged, list)
        or not judged
        or not all(isinstance(k, int) and 0 <= k < len(turns) for k in judged)
    ):
        raise DataError(
            f"item {item.get('id')!r}: 'judged_turns' must list turn numbers below {len(turns)}, got {judged!r}"
        )
    return judged


def golden_messages(prompt: PromptConfig, item: Mapping[str, Any], turn: int) -> list[dict[str, str]]:
    """The conversation the model answers for `turn` of a golden-history item: the first user turn rendered with
    the prompt config (system text), the golden assistant answers of the earlier turns, then user turn `turn`."""
    turns = item_turns(item)
    history = item.get("history")
    if not isinstance(history, list) or len(history) != len(turns):
        raise DataError(f"item {item.get('id')!r}: a golden-history item needs one 'history' {{user, bot}} per turn")
    follow_up = dataclasses.replace(prompt, system="", few_shot_examples=())
    messages: list[dict[str, str]] = []
    for number in range(turn + 1):
        fields = {**item, "problem": turns[number]}
        rendered = prompt.render(fields) if number == 0 else follow_up.render(fields)
        assert isinstance(rendered, list)  # chat mode renders messages
        messages.extend(rendered if number == 0 else rendered[-1:])
        if number < turn:
            bot = history[number].get("bot") if isinstance(history[number], dict) else None
            if not isinstance(bot, str):
                raise DataError(f"item {item.get('id')!r}: history turn {number + 1} has no string 'bot'")
            messages.append({"role": "assistant", "content": bot})
    return messages


async def _golden_turns(
    client: OpenAIClient, prompt: PromptConfig, params: SamplingParams, item: Mapping[str, Any], turns: list[str]
) -> Generated:
    judged = _judged_turns(item, turns)
    conversations = [golden_messages(prompt, item, k) for k in judged]
    completions = await asyncio.gather(*(client.chat(messages, params) for messages in conversations))
    answers: list[str | None] = [None] * len(turns)
    for k, completion in zip(judged, completions, strict=True):
        answers[k] = completion.text
    tokens = sum(c.num_tokens for c in completions)
    return Generated(completions[-1].text, tokens, completions[-1].finish_reason, generations=tuple(answers))
