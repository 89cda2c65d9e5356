"""The inference core that the generate stage, log-likelihood scoring and the judge share: prepare a task (select
its items, check its settings, find what is left), open a client to a running server with its in-flight limit,
close it (remembering the limit it settled at) and write its record (`client_report`, `save_client_report`), and
finish a task (check every item is written, mark it done).

Nothing here imports a stage, so every stage can import it without a circle.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nemo_pipeline.config import ClientConfig, GenerateConfig, flat_values
from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.inference._client_report import client_report, limiter_for, remember_settled, save_client_report
from nemo_pipeline.inference._server_context import ServerEndpoint, check_reachable, serving
from nemo_pipeline.inference.client import OpenAIClient
from nemo_pipeline.inference.prompts import PromptConfig, load_prompt
from nemo_pipeline.jsonl import JsonlAppender, iter_jsonl, read_jsonl
from nemo_pipeline.layout import (
    check_same_settings,
    done_marker,
    generation_settings,
    is_complete,
    selection_stamp,
    settings_file,
)
from nemo_pipeline.records import DoneMarker, write_done_marker, write_marker

__all__ = [
    "GenerateResult",
    "ServerEndpoint",
    "Task",
    "check_reachable",
    "client_report",
    "close_client",
    "finish_task",
    "finished_ids",
    "open_client",
    "prepare_task",
    "save_client_report",
    "select_items",
    "serving",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerateResult:
    """What a finished task reports: its file, items selected, written by this run, and already there."""

    output_file: Path
    total: int
    generated_now: int
    skipped: int
    seconds: float


@dataclass
class Task:
    """One output file to fill: its config, the selected items and those still to write."""

    cfg: GenerateConfig
    output_file: Path
    items: list[dict[str, Any]]
    todo: list[dict[str, Any]]


def select_items(
    items: list[dict[str, Any]], max_samples: int, num_chunks: int, chunk_id: int, max_samples_per_subset: int = -1
) -> list[dict[str, Any]]:
    """The first `max_samples_per_subset` items of every subset (items without one form one group; -1: all), in file
    order, so every rerun and every model gets the same ones; then the first `max_samples` of those (all if -1);
    then the `chunk_id`-th of `num_chunks` contiguous chunks."""
    if num_chunks < 1 or not 0 <= chunk_id < num_chunks:
        raise ConfigError(f"chunk_id={chunk_id} must be in [0, num_chunks={num_chunks})")
    if max_samples_per_subset == 0 or max_samples_per_subset < -1:
        raise ConfigError(f"max_samples_per_subset must be -1 (all) or at least 1, got {max_samples_per_subset}")
    if max_samples_per_subset > 0:
        taken: Counter[str | None] = Counter()
        kept = []
        for item in items:
            subset = item.get("subset")
            key = None if subset is None else str(subset)
            if taken[key] < max_samples_per_subset:
                taken[key] += 1
                kept.append(item)
        items = kept
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


def prepare_task(cfg: GenerateConfig) -> Task:
    """Before any server starts: check the config, prompt and items, record the settings (refusing other settings
    for the same file), drop a torn last record and a done marker of another selection; the items left to write."""
    unset = [key for key in ("input_file", "output_file") if not getattr(cfg, key)]
    if unset:
        raise ConfigError(f"generate: required key(s) not set: {', '.join(unset)} (use ++key=value, or ++tasks_file)")
    input_file, output_file = Path(cfg.input_file), Path(cfg.output_file)
    if not input_file.exists():
        raise DataError(f"input_file {input_file} does not exist")
    prompt = load_prompt(cfg.prompt_config)  # fail on a bad prompt before any server starts
    items = select_items(
        read_jsonl(input_file), cfg.max_samples, cfg.num_chunks, cfg.chunk_id, cfg.max_samples_per_subset
    )
    _check_items_fit_prompt(items, prompt, cfg)
    settings = generation_settings(flat_values(cfg))
    check_same_settings(output_file, settings)
    output_file.parent.mkdir(parents=True, exist_ok=True)
    JsonlAppender(output_file).close()  # drops a record torn by a kill mid-write
    write_marker(settings_file(output_file), settings)
    if not is_complete(done_marker(output_file), selection_stamp(cfg)):
        done_marker(output_file).unlink(missing_ok=True)  # a marker for another selection must not outlive it
    done = finished_ids(output_file)
    extra = done - {item["id"] for item in items}
    if extra:
        log.warning("%s holds %d item(s) outside this selection; they are kept, not counted", output_file, len(extra))
    return Task(cfg, output_file, items, [item for item in items if item["id"] not in done])


def finish_task(task: Task, started: float) -> GenerateResult:
    """DataError when a selected item is still missing from the file; else write the done marker (the selection)."""
    wanted = [item["id"] for item in task.items]
    missing = set(wanted) - finished_ids(task.output_file)
    if missing:
        raise DataError(f"{task.output_file}: {len(missing)} item(s) still missing after generation; rerun to resume")
    write_done_marker(done_marker(task.output_file), DoneMarker(selection_stamp(task.cfg), tuple(wanted)))
    return GenerateResult(
        task.output_file, len(task.items), len(task.todo), len(task.items) - len(task.todo), time.monotonic() - started
    )


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


def open_client(endpoint: ServerEndpoint, cfg: ClientConfig, where: str = "") -> OpenAIClient:
    """A client to `endpoint` with `cfg`'s request bounds, its limit pinned or adaptive; an adaptive one opens where an
    earlier client to the same server settled, if any. `where` prefixes the keys an error names (`judge.`)."""
    limiter = limiter_for(cfg.max_concurrent_requests, cfg.concurrency, cfg.server, endpoint.base_url, where)
    return OpenAIClient(
        endpoint.base_url,
        endpoint.model,
        api_key=endpoint.api_key,
        timeout_s=cfg.request_timeout_s,
        max_retries=cfg.max_retries,
        limiter=limiter,
    )


async def close_client(client: OpenAIClient, endpoint: ServerEndpoint) -> None:
    """Close the client's transport and remember the limit it settled at for the next client to `endpoint`."""
    try:
        await client.aclose()
    finally:
        remember_settled(endpoint.base_url, client.limiter)
