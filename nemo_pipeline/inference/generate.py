"""The generate stage: prompt the model on every item, concurrently, appending each finished item at once.

A rerun resumes: finished ids are read from the output file and skipped, so no item is lost or duplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from nemo_pipeline.config import GenerateConfig, SamplingDefaults, compose_config, flat_values, resolve_inference
from nemo_pipeline.errors import ConfigError, DataError, NemoPipelineError
from nemo_pipeline.inference._client_report import (
    ClientReport,
    failed_items_message,
    limiter_for,
    remember_settled,
    write_client_report,
)
from nemo_pipeline.inference._server_context import ServerEndpoint, serving
from nemo_pipeline.inference.client import OpenAIClient, RequestError, SamplingParams, run_bounded
from nemo_pipeline.inference.code_execution import generate_with_code
from nemo_pipeline.inference.multiturn import generate_turns
from nemo_pipeline.inference.prompts import PromptConfig, load_prompt
from nemo_pipeline.inference.servers import SERVER_TYPES
from nemo_pipeline.jsonl import GroupCommitAppender, JsonlAppender, iter_jsonl, read_jsonl
from nemo_pipeline.layout import (
    check_same_settings,
    done_marker,
    generation_settings,
    is_complete,
    sandbox_log,
    selection_stamp,
    settings_file,
    stage_log_dir,
    write_marker,
)
from nemo_pipeline.progress import ProgressWriter
from nemo_pipeline.sandbox import LocalSandbox, SandboxClient

__all__ = [
    "GenerateResult",
    "finished_ids",
    "run_generate",
    "run_generate_tasks",
    "select_items",
    "task_configs",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerateResult:
    output_file: Path
    total: int
    generated_now: int
    skipped: int
    seconds: float


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


def sampling_params(cfg: GenerateConfig, prompt: PromptConfig) -> SamplingParams:
    """The request settings: the config's (set by the graph builder, or the stage's defaults), the prompt's stop
    strings unless `inference.stop` gives others."""
    inference = cfg.inference
    if inference.temperature is None or inference.tokens_to_generate is None:
        raise ConfigError("inference.temperature and inference.tokens_to_generate must be set for generate")
    return SamplingParams.of(resolve_inference(inference, SamplingDefaults(stop=prompt.stop)))


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
    total: int = 0,  # items selected for output_file (0: just the todo ones), for the progress file
) -> None:
    """Generate every item of `todo` under the client's in-flight limit, committing finished items in groups.

    An item whose requests fail after the bounded retries is recorded, not fatal: the others finish and are saved,
    then RequestError names every failed id. The client's record goes to `<output_file>.client.json`.
    """
    prompt = load_prompt(cfg.prompt_config)
    params = sampling_params(cfg, prompt)
    client = OpenAIClient(
        endpoint.base_url,
        endpoint.model,
        api_key=endpoint.api_key,
        timeout_s=cfg.request_timeout_s,
        max_retries=cfg.max_retries,
        limiter=limiter_for(cfg.max_concurrent_requests, cfg.concurrency, cfg.server, endpoint.base_url),
    )
    code = None
    if sandbox_url is not None:
        code = _CodeRunner(
            SandboxClient(sandbox_url),
            cfg.max_code_executions,
            cfg.code_execution_timeout_s,
            SERVER_TYPES.get(cfg.server.server_type).needs_continue_flag,
        )
    progress = tqdm(total=len(todo), desc=f"generate {output_file.name}", disable=not cfg.progress, unit="item")
    # Items done of total, read by the local backend's progress lines and status.py (keep when rewriting this).
    selected = total or len(todo)
    progress_file = ProgressWriter(output_file, total=selected, done=selected - len(todo))

    def committed(count: int) -> None:
        progress.update(count)
        progress_file.advance(count)

    out = GroupCommitAppender(output_file, on_commit=committed)  # progress counts durable items only
    failures: dict[str, str] = {}

    async def one(item: dict[str, Any]) -> None:
        try:
            record = await _generate_one(client, prompt, params, item, code)
        except NemoPipelineError as exc:  # retries exhausted, a refused request, an unreachable sandbox
            failures[str(item["id"])] = str(exc)
            return
        out.add(record)

    started = time.monotonic()
    try:
        await client.prepare()
        # items in progress: twice the in-flight limit, so multi-request items and retries keep it full
        await run_bounded(todo, one, lambda: 2 * client.limiter.limit + 8, client.limiter)
    finally:
        await out.aclose()
        progress.close()
        await client.aclose()
        if code is not None:
            await code.sandbox.aclose()
        report = ClientReport.of(
            client, output_file, len(todo), out.committed, sorted(failures), time.monotonic() - started
        )
        write_client_report(report, output_file)
        remember_settled(endpoint.base_url, client.limiter)
    if failures:
        raise RequestError(failed_items_message(output_file, failures, len(todo)))


# What a grouped job's command line sets for every task: where the server and sandbox are, where logs go.
JOB_LEVEL_KEYS = ("server", "sandbox", "log_dir", "progress")


@dataclass
class _Task:
    """One output file to fill: its config, the selected items and those still to generate."""

    cfg: GenerateConfig
    output_file: Path
    items: list[dict[str, Any]]
    todo: list[dict[str, Any]]


def _prepare(cfg: GenerateConfig) -> _Task:
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
    return _Task(cfg, output_file, items, [item for item in items if item["id"] not in done])


def _finish(task: _Task, started: float) -> GenerateResult:
    wanted = [item["id"] for item in task.items]
    missing = set(wanted) - finished_ids(task.output_file)
    if missing:
        raise DataError(f"{task.output_file}: {len(missing)} item(s) still missing after generation; rerun to resume")
    write_marker(done_marker(task.output_file), {**selection_stamp(task.cfg), "ids": wanted})
    return GenerateResult(
        task.output_file, len(task.items), len(task.todo), len(task.items) - len(task.todo), time.monotonic() - started
    )


def _log_dir(cfg: GenerateConfig) -> Path:
    return stage_log_dir(cfg.log_dir, Path(cfg.output_file))


def run_generate(cfg: GenerateConfig) -> GenerateResult:
    """Generate answers for every selected item not yet in the output file."""
    from nemo_pipeline.loglik import is_loglik_input, run_loglik  # log-likelihood items are scored, not generated

    if is_loglik_input(Path(cfg.input_file)):
        return run_loglik(cfg)
    if cfg.tasks_file:
        raise ConfigError("tasks_file is set: run the tasks with run_generate_tasks (pipeline/generate.py does)")
    started = time.monotonic()
    task = _prepare(cfg)
    if task.todo:
        with _sandbox_for_code(cfg, _log_dir(cfg)) as sandbox_url, serving(cfg.server, _log_dir(cfg)) as endpoint:
            asyncio.run(_generate_all(cfg, endpoint, task.todo, task.output_file, sandbox_url, len(task.items)))
    return _finish(task, started)


def task_configs(cfg: GenerateConfig) -> list[GenerateConfig]:
    """The configs of a grouped job's tasks: each task's overrides, with the job's server, sandbox and logs."""
    assert cfg.tasks_file is not None
    path = Path(cfg.tasks_file)
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ConfigError(f"tasks_file {path}: cannot read a JSON list of override lists: {err}") from None
    if not isinstance(tasks, list) or not all(isinstance(t, list) for t in tasks):
        raise ConfigError(f"tasks_file {path}: expected a JSON list of override lists")
    configs = []
    for number, overrides in enumerate(tasks):
        try:
            task = compose_config(GenerateConfig, "generate", [str(o) for o in overrides])
        except ConfigError as err:
            raise ConfigError(f"tasks_file {path}, task {number}: {err}") from None
        for key in JOB_LEVEL_KEYS:
            setattr(task, key, getattr(cfg, key))
        configs.append(task)
    return configs


def run_generate_tasks(cfg: GenerateConfig) -> list[GenerateResult]:
    """A grouped server job: start the server once and fill every task's output file that is not complete.

    A task that fails does not stop the others; the job fails at the end naming every failed task.
    """
    started = time.monotonic()
    tasks = [_prepare(task_cfg) for task_cfg in task_configs(cfg)]
    pending = [task for task in tasks if task.todo]
    from nemo_pipeline.loglik import check_loglik_task, is_loglik_input, score_all  # scored, not generated

    loglik = {task.output_file for task in pending if is_loglik_input(Path(task.cfg.input_file))}
    for task in pending:
        if task.output_file in loglik:
            check_loglik_task(task.cfg, task.items)  # before the server starts
    failed: list[str] = []
    if pending:
        code_cfg = next((task.cfg for task in pending if task.cfg.code_execution), None)
        with contextlib.ExitStack() as stack:
            sandbox_url = stack.enter_context(_sandbox_for_code(code_cfg, _log_dir(cfg))) if code_cfg else None
            endpoint = stack.enter_context(serving(cfg.server, _log_dir(cfg)))
            for task in pending:
                log.info("generate: %s (%d item(s) to do)", task.output_file, len(task.todo))
                try:
                    url = sandbox_url if task.cfg.code_execution else None
                    if task.output_file in loglik:
                        asyncio.run(score_all(task.cfg, endpoint, task.todo, task.output_file))
                    else:
                        asyncio.run(
                            _generate_all(task.cfg, endpoint, task.todo, task.output_file, url, len(task.items))
                        )
                except NemoPipelineError as err:
                    log.error("generate: %s failed: %s", task.output_file, err)
                    failed.append(f"{task.output_file}: {err}")
    results = []
    for task in tasks:
        try:
            results.append(_finish(task, started))
        except DataError as err:
            if not any(line.startswith(str(task.output_file)) for line in failed):
                failed.append(str(err))
    if failed:
        raise DataError(f"{len(failed)} of {len(tasks)} generate task(s) failed: " + " | ".join(failed))
    return results


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
        with LocalSandbox(start_timeout_s=cfg.sandbox.start_timeout_s, log_path=sandbox_log(log_dir)) as sandbox:
            yield sandbox.url
