"""The generate stage for log-likelihood items: score every choice through `/v1/completions` with `echo` and
`logprobs`, and append one output line per item (its log-likelihoods and chosen answer) as soon as it is scored.

Which echoed tokens are the continuation's is told by the server's own token counts: each item also sends its
context alone (no echo, one token) to read `usage.prompt_tokens` (see `_score.continuation_logprob`).

Resumable like generation: finished ids are skipped, the settings file and done marker are the same ones.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from nemo_pipeline.config import GREEDY_TEMPERATURE, GenerateConfig
from nemo_pipeline.errors import ConfigError, DataError, NemoPipelineError
from nemo_pipeline.inference.client import OpenAIClient
from nemo_pipeline.inference.core import (
    GenerateResult,
    ServerEndpoint,
    client_report,
    close_client,
    finish_task,
    open_client,
    prepare_task,
    save_client_report,
    serving,
)
from nemo_pipeline.inference.servers import SERVER_TYPES
from nemo_pipeline.jsonl import JsonlAppender
from nemo_pipeline.layout import stage_log_dir
from nemo_pipeline.loglik._items import Request, is_loglik_item, loglik_fields, requests_of
from nemo_pipeline.loglik._score import ContinuationScore, continuation_logprob, score_item, split_context
from nemo_pipeline.records import Generated, LoglikScores

__all__ = [
    "check_loglik_task",
    "check_server_can_score",
    "is_loglik_input",
    "run_loglik",
    "score_all",
    "scoring_server_types",
]

log = logging.getLogger(__name__)


def scoring_server_types() -> list[str]:
    """Names of the server types that return prompt log-probabilities."""
    return [name for name in SERVER_TYPES if SERVER_TYPES.get(name).supports_loglikelihood]


def check_server_can_score(server_type: str, benchmark: str = "") -> None:
    """ConfigError (one line, naming the types that can) when `server_type` cannot score log-likelihoods."""
    if SERVER_TYPES.get(server_type).supports_loglikelihood:
        return
    what = f"benchmark '{benchmark}' is scored by log-likelihood" if benchmark else "log-likelihood items"
    raise ConfigError(
        f"{what}: they need prompt log-probabilities, which server type '{server_type}' does not return; use "
        f"--server_type {' or '.join(scoring_server_types())} (llamacpp-python serves the embedded model)"
    )


def check_loglik_task(cfg: GenerateConfig, items: list[dict[str, Any]]) -> None:
    """Before any server starts: the server type can score, no code execution, every item well formed."""
    check_server_can_score(cfg.server.server_type)
    if cfg.code_execution:
        raise ConfigError("code_execution=true does not apply to log-likelihood items")
    for item in items:
        loglik_fields(item)


def is_loglik_input(input_file: Path) -> bool:
    """True when the first record of a data file is a log-likelihood item (False for a missing file)."""
    if not input_file.is_file():
        return False
    with input_file.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                return is_loglik_item(json.loads(line))
    return False


def _usage_count(data: dict[str, Any], key: str) -> int | None:
    """`usage[key]` of a completion response; None when the server gives no such count."""
    usage = data.get("usage")
    value = usage.get(key) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _needed(count: int | None, key: str) -> int:
    if count is None:
        raise DataError(f"the server's completion has no usage.{key}, which aligning the echoed tokens needs")
    return count


async def _count_tokens(client: OpenAIClient, text: str) -> int:
    """How many tokens the server makes of `text` as a prompt (BOS included): `usage.prompt_tokens` of a one-token
    completion without echo."""
    body = {"model": client.model, "prompt": text, "max_tokens": 1, "temperature": GREEDY_TEMPERATURE}
    count = await client.request("POST", "/completions", body, lambda data: _usage_count(data, "prompt_tokens"))
    return _needed(count, "prompt_tokens")


def _echo_of(data: dict[str, Any]) -> tuple[Any, int | None, int | None]:
    return data["choices"][0]["logprobs"], _usage_count(data, "prompt_tokens"), _usage_count(data, "completion_tokens")


async def _score_request(
    client: OpenAIClient, request: Request, context_tokens: asyncio.Future[int]
) -> ContinuationScore:
    prompt = request.context + request.continuation
    body = {
        "model": client.model,
        "prompt": prompt,
        "max_tokens": 1,
        "temperature": GREEDY_TEMPERATURE,
        "echo": True,
        "logprobs": 1,
    }
    # The client's bounded, retrying request (a body without choices[0].logprobs or usage counts as invalid).
    logprobs, prompt_tokens, generated = await client.request("POST", "/completions", body, _echo_of)
    if not logprobs:
        raise DataError(
            f"{client.base_url}/completions returned no log-probabilities for echo=true, logprobs=1; "
            f"this server cannot score log-likelihood (use one of: {', '.join(scoring_server_types())})"
        )
    return continuation_logprob(
        logprobs,
        prompt_tokens=_needed(prompt_tokens, "prompt_tokens"),
        generated_tokens=_needed(generated, "completion_tokens"),
        context_tokens=await context_tokens,
    )


async def _score_one(client: OpenAIClient, item: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    requests = requests_of(item)
    # One token count per distinct context (lm-eval's split: the context without its trailing whitespace).
    contexts = sorted({split_context(r.context, r.continuation)[0] for r in requests})
    if not all(contexts):
        raise DataError(f"item {item.get('id')!r}: the context is empty or only whitespace: nothing to condition on")
    counts = {text: asyncio.ensure_future(_count_tokens(client, text)) for text in contexts}
    try:
        scores = await asyncio.gather(
            *(_score_request(client, r, counts[split_context(r.context, r.continuation)[0]]) for r in requests)
        )
    except DataError as exc:
        raise DataError(f"item {item.get('id')!r}: {exc}") from None
    finally:
        for task in counts.values():
            task.cancel()
        await asyncio.gather(*counts.values(), return_exceptions=True)
    fields = loglik_fields(item)
    lls = [s.logprob for s in scores]
    result = score_item(fields, lls)
    generated = Generated(
        fields.choices[result.predicted],
        num_generated_tokens=0,
        finish_reason="loglikelihood",
        generation_time_s=round(time.monotonic() - started, 4),
        loglik=LoglikScores(tuple(lls), tuple(s.is_greedy for s in scores), tuple(s.num_tokens for s in scores)),
    )
    return {**item, **generated.to_json()}


async def score_all(cfg: GenerateConfig, endpoint: ServerEndpoint, todo: list[dict[str, Any]], out_file: Path) -> None:
    """Score `todo` against a running server, appending each item to `out_file` when all its choices are scored. An
    item whose requests fail stops the task (what was scored stays, a rerun resumes); the client's record goes to
    `<out_file>.client.json` either way."""
    client = open_client(endpoint, cfg)  # its limiter bounds the requests in flight
    await client.prepare()
    progress = tqdm(total=len(todo), desc=f"loglik {out_file.name}", disable=not cfg.progress, unit="item")
    failed: list[str] = []

    async def scored(item: dict[str, Any]) -> dict[str, Any]:
        try:
            return await _score_one(client, item)
        except NemoPipelineError:
            failed.append(str(item["id"]))
            raise

    tasks = [asyncio.create_task(scored(item)) for item in todo]
    written = 0
    started = time.monotonic()
    try:
        with JsonlAppender(out_file) as out:
            for finished in asyncio.as_completed(tasks):
                out.append(await finished)
                written += 1
                progress.update(1)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        progress.close()
        await close_client(client, endpoint)
        report = client_report(client, out_file, len(todo), written, sorted(failed), time.monotonic() - started)
        save_client_report(report, out_file, "loglik")


def run_loglik(cfg: GenerateConfig) -> GenerateResult:
    """Score every selected log-likelihood item not yet in the output file: the generate stage for such data, with
    the generate stage's own selection, settings check, resume and done marker."""
    started = time.monotonic()
    task = prepare_task(cfg)
    check_loglik_task(cfg, task.items)
    if task.todo:
        log_dir = stage_log_dir(cfg.log_dir, task.output_file)
        with serving(cfg.server, log_dir) as endpoint:
            asyncio.run(score_all(cfg, endpoint, task.todo, task.output_file))
    return finish_task(task, started)
