"""The generate stage: prompt the model on every item, concurrently, appending each finished item at once.

A rerun resumes: finished ids are read from the output file and skipped, so no item is lost or duplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from nemo_pipeline.config import GenerateConfig, flat_values
from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.inference._server_context import ServerEndpoint, serving
from nemo_pipeline.inference.client import OpenAIClient, SamplingParams
from nemo_pipeline.inference.code_execution import generate_with_code
from nemo_pipeline.inference.multiturn import generate_turns
from nemo_pipeline.inference.prompts import PromptConfig, load_prompt
from nemo_pipeline.inference.servers import SERVER_TYPES
from nemo_pipeline.jsonl import JsonlAppender, iter_jsonl, read_jsonl
from nemo_pipeline.sandbox import LocalSandbox, SandboxClient

__all__ = [
    "GENERATION_KEYS",
    "GenerateResult",
    "check_same_settings",
    "done_marker",
    "finished_ids",
    "generation_settings",
    "run_generate",
    "select_items",
    "selection_stamp",
    "settings_file",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerateResult:
    output_file: Path
    total: int
    generated_now: int
    skipped: int
    seconds: float


def select_items(items: list[dict[str, Any]], max_samples: int, num_chunks: int, chunk_id: int) -> list[dict[str, Any]]:
    """The first `max_samples` items (all if -1), then the `chunk_id`-th of `num_chunks` contiguous chunks."""
    if num_chunks < 1 or not 0 <= chunk_id < num_chunks:
        raise ConfigError(f"chunk_id={chunk_id} must be in [0, num_chunks={num_chunks})")
    if max_samples >= 0:
        items = items[:max_samples]
    size, extra = divmod(len(items), num_chunks)
    start = chunk_id * size + min(chunk_id, extra)
    return items[start : start + size + (1 if chunk_id < extra else 0)]


def finished_ids(output_file: Path) -> set[str]:
    """Ids already in the output file; a corrupt line raises DataError with its line number."""
    if not output_file.exists():
        return set()
    seen: set[str] = set()
    for number, record in enumerate(iter_jsonl(output_file), start=1):
        if "id" not in record:
            raise DataError(f"{output_file}:{number}: record has no 'id'")
        if record["id"] in seen:
            raise DataError(f"{output_file}:{number}: id {record['id']!r} appears twice")
        seen.add(record["id"])
    return seen


def sampling_params(cfg: GenerateConfig, prompt: PromptConfig) -> SamplingParams:
    inference = cfg.inference
    if inference.temperature is None or inference.tokens_to_generate is None:
        raise ConfigError("inference.temperature and inference.tokens_to_generate must be set for generate")
    return SamplingParams(
        temperature=inference.temperature,
        top_p=inference.top_p,
        top_k=inference.top_k,
        max_tokens=inference.tokens_to_generate,
        seed=inference.random_seed,
        stop=tuple(inference.stop) or prompt.stop,
    )


@dataclass(frozen=True)
class _CodeRunner:
    """What code execution during generation needs: the sandbox and its bounds."""

    sandbox: SandboxClient
    max_executions: int
    timeout_s: float
    continue_flag: bool


async def _generate_one(
    client: OpenAIClient,
    prompt: PromptConfig,
    params: SamplingParams,
    item: dict[str, Any],
    code: _CodeRunner | None,
) -> dict[str, Any]:
    started = time.monotonic()
    if isinstance(item.get("turns"), list):
        fields = await generate_turns(client, prompt, params, item)
    else:
        rendered = prompt.render(item)
        if code is not None:
            result = await generate_with_code(
                client, rendered, params, code.sandbox, code.max_executions, code.timeout_s,
                continue_final_message=code.continue_flag,
            )  # fmt: skip
            fields = {
                "generation": result.text,
                "num_generated_tokens": result.num_tokens,
                "finish_reason": result.finish_reason,
                "code_executions": list(result.executions),
            }
        else:
            completion = await (
                client.complete(rendered, params) if isinstance(rendered, str) else client.chat(rendered, params)
            )
            fields = {
                "generation": completion.text,
                "num_generated_tokens": completion.num_tokens,
                "finish_reason": completion.finish_reason,
            }
    return {**item, **fields, "generation_time_s": round(time.monotonic() - started, 4)}


async def _generate_all(
    cfg: GenerateConfig,
    endpoint: ServerEndpoint,
    todo: list[dict[str, Any]],
    output_file: Path,
    sandbox_url: str | None,
) -> None:
    prompt = load_prompt(cfg.prompt_config)
    params = sampling_params(cfg, prompt)
    client = OpenAIClient(
        endpoint.base_url,
        endpoint.model,
        api_key=endpoint.api_key,
        timeout_s=cfg.request_timeout_s,
        max_retries=cfg.max_retries,
        max_connections=cfg.max_concurrent_requests,
    )
    if not client.model:
        client.model = await client.first_model()
    limit = asyncio.Semaphore(cfg.max_concurrent_requests)
    code = None
    if sandbox_url is not None:
        code = _CodeRunner(
            SandboxClient(sandbox_url),
            cfg.max_code_executions,
            cfg.code_execution_timeout_s,
            SERVER_TYPES.get(cfg.server.server_type).needs_continue_flag,
        )

    async def bounded(item: dict[str, Any]) -> dict[str, Any]:
        async with limit:
            return await _generate_one(client, prompt, params, item, code)

    progress = tqdm(total=len(todo), desc=f"generate {output_file.name}", disable=not cfg.progress, unit="item")
    tasks = [asyncio.create_task(bounded(item)) for item in todo]
    try:
        with JsonlAppender(output_file) as out:
            for finished in asyncio.as_completed(tasks):
                out.append(await finished)
                progress.update(1)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        progress.close()
        await client.aclose()
        if code is not None:
            await code.sandbox.aclose()


# The settings that decide what the model writes. An output file holds answers of one setting only: a rerun with
# other values is refused rather than mixed into it (the server's address and the request bounds may change).
GENERATION_KEYS = (
    "prompt_config",
    "inference.temperature",
    "inference.top_p",
    "inference.top_k",
    "inference.tokens_to_generate",
    "inference.random_seed",
    "inference.stop",
    "server.server_type",
    "server.model",
    "code_execution",
    "max_code_executions",
    "code_execution_timeout_s",
)


def generation_settings(flat: dict[str, Any]) -> dict[str, Any]:
    """The GENERATION_KEYS of a flat generate config (`flat_values(cfg)` or the eval graph's overrides)."""
    return {key: flat[key] for key in GENERATION_KEYS}


def settings_file(output_file: Path) -> Path:
    """Where the generation settings of `output_file` are recorded."""
    return output_file.with_name(output_file.name + ".settings")


def check_same_settings(output_file: Path, settings: dict[str, Any]) -> None:
    """ConfigError naming the changed settings when `output_file` was generated with others."""
    recorded_file = settings_file(output_file)
    if not recorded_file.exists():
        return
    recorded = json.loads(recorded_file.read_text())
    changed = [f"{k}: {recorded.get(k)!r} -> {v!r}" for k, v in settings.items() if recorded.get(k) != v]
    if changed:
        raise ConfigError(
            f"{output_file} was generated with other settings ({'; '.join(changed)}); its answers would be mixed "
            "with new ones. Use another output directory, or delete the file to start over"
        )


def run_generate(cfg: GenerateConfig) -> GenerateResult:
    """Generate answers for every selected item not yet in the output file."""
    started = time.monotonic()
    input_file, output_file = Path(cfg.input_file), Path(cfg.output_file)
    if not input_file.exists():
        raise DataError(f"input_file {input_file} does not exist")
    prompt = load_prompt(cfg.prompt_config)  # fail on a bad prompt before any server starts
    items = select_items(read_jsonl(input_file), cfg.max_samples, cfg.num_chunks, cfg.chunk_id)
    _check_items_fit_prompt(items, prompt, cfg)
    settings = generation_settings(flat_values(cfg))
    check_same_settings(output_file, settings)
    JsonlAppender(output_file).close()  # drops a record torn by a kill mid-write
    settings_file(output_file).write_text(json.dumps(settings, sort_keys=True) + "\n")
    done = finished_ids(output_file)
    wanted = {item["id"] for item in items}
    extra = done - wanted
    if extra:
        log.warning("%s holds %d item(s) outside this selection; they are kept", output_file, len(extra))
    todo = [item for item in items if item["id"] not in done]
    if todo:
        log_dir = Path(cfg.log_dir) if cfg.log_dir else output_file.parent / "logs"
        with _sandbox_for_code(cfg, log_dir) as sandbox_url, serving(cfg.server, log_dir) as endpoint:
            asyncio.run(_generate_all(cfg, endpoint, todo, output_file, sandbox_url))
    missing = wanted - finished_ids(output_file)
    if missing:
        raise DataError(f"{output_file}: {len(missing)} item(s) still missing after generation; rerun to resume")
    done_marker(output_file).write_text(json.dumps(selection_stamp(cfg)) + "\n")
    return GenerateResult(output_file, len(items), len(todo), len(items) - len(todo), time.monotonic() - started)


def _check_items_fit_prompt(items: list[dict[str, Any]], prompt: PromptConfig, cfg: GenerateConfig) -> None:
    multi_turn = next((item["id"] for item in items if isinstance(item.get("turns"), list)), None)
    if multi_turn is None:
        return
    if prompt.mode != "chat":
        raise ConfigError(
            f"prompt_config={cfg.prompt_config} is in {prompt.mode} mode, but item {multi_turn!r} has 'turns' and "
            "needs a chat prompt (e.g. prompt_config=generic/chat)"
        )
    if cfg.code_execution:
        raise ConfigError(f"code_execution=true is for single-turn items; item {multi_turn!r} has 'turns'")


@contextlib.contextmanager
def _sandbox_for_code(cfg: GenerateConfig, log_dir: Path) -> Iterator[str | None]:
    """The sandbox address for code execution: none when it is off, the configured one, or a local sandbox."""
    if not cfg.code_execution:
        yield None
    elif cfg.sandbox.address:
        yield cfg.sandbox.address
    else:
        with LocalSandbox(start_timeout_s=cfg.sandbox.start_timeout_s, log_path=log_dir / "sandbox.log") as sandbox:
            yield sandbox.url


def selection_stamp(cfg: GenerateConfig) -> dict[str, int]:
    """What the done marker records: a rerun with another selection must not be skipped."""
    return {"max_samples": cfg.max_samples, "num_chunks": cfg.num_chunks, "chunk_id": cfg.chunk_id}


def done_marker(output_file: Path) -> Path:
    """Written when every selected item of `output_file` is generated; the job graph skips such jobs."""
    return output_file.with_name(output_file.name + ".done")
