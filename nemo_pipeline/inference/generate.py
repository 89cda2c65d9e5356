"""The generate stage: prompt the model on every item, concurrently, appending each finished item at once.

A rerun resumes: finished ids are read from the output file and skipped, so no item is lost or duplicated.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from nemo_pipeline.config import GenerateConfig, SamplingDefaults, compose_config, resolve_inference
from nemo_pipeline.errors import ConfigError, DataError, NemoPipelineError
from nemo_pipeline.inference._client_report import client_report, failed_items_message, save_client_report
from nemo_pipeline.inference.client import OpenAIClient, RequestError, SamplingParams, run_bounded
from nemo_pipeline.inference.code_execution import generate_with_code
from nemo_pipeline.inference.core import (
    GenerateResult,
    ServerEndpoint,
    close_client,
    finish_task,
    finished_ids,
    open_client,
    prepare_task,
    select_items,
    serving,
)
from nemo_pipeline.inference.multiturn import generate_turns
from nemo_pipeline.inference.prompts import PromptConfig, load_prompt
from nemo_pipeline.inference.servers import SERVER_TYPES
from nemo_pipeline.jsonl import GroupCommitAppender
from nemo_pipeline.layout import (
    sandbox_log,
    stage_log_dir,
)
from nemo_pipeline.progress import ProgressWriter
from nemo_pipeline.records import Generated
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
        generated = await generate_turns(client, prompt, params, item)
    else:
        rendered = prompt.render(item)
        if code is not None:
            result = await generate_with_code(
                client, rendered, params, code.sandbox, code.max_executions, code.timeout_s,
                continue_final_message=code.continue_flag,
            )  # fmt: skip
            generated = Generated(
                result.text, result.num_tokens, result.finish_reason, code_executions=result.executions
            )
        else:
            completion = await (
                client.complete(rendered, params) if isinstance(rendered, str) else client.chat(rendered, params)
            )
            generated = Generated(completion.text, completion.num_tokens, completion.finish_reason)
    elapsed = round(time.monotonic() - started, 4)
    return {**item, **dataclasses.replace(generated, generation_time_s=elapsed).to_json()}


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
    client = open_client(endpoint, cfg)
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
        await close_client(client, endpoint)
        if code is not None:
            await code.sandbox.aclose()
        report = client_report(
            client, output_file, len(todo), out.committed, sorted(failures), time.monotonic() - started
        )
        save_client_report(report, output_file, "generate")
    if failures:
        raise RequestError(failed_items_message(output_file, failures, len(todo)))


# What a grouped job's command line sets for every task: where the server and sandbox are, where logs go.
JOB_LEVEL_KEYS = ("server", "sandbox", "log_dir", "progress")


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
    task = prepare_task(cfg)
    if task.todo:
        with _sandbox_for_code(cfg, _log_dir(cfg)) as sandbox_url, serving(cfg.server, _log_dir(cfg)) as endpoint:
            asyncio.run(_generate_all(cfg, endpoint, task.todo, task.output_file, sandbox_url, len(task.items)))
    return finish_task(task, started)


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
    tasks = [prepare_task(task_cfg) for task_cfg in task_configs(cfg)]
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
            results.append(finish_task(task, started))
        except DataError as err:
            if not any(line.startswith(str(task.output_file)) for line in failed):
                failed.append(str(err))
    if failed:
        raise DataError(f"{len(failed)} of {len(tasks)} generate task(s) failed: " + " | ".join(failed))
    return results


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
