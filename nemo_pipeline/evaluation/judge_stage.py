"""The LLM-as-judge generation: ask a judge model about every answer before the `judge` graders parse its verdicts.

Fields added to each record (what `judge_grader` reads):

- mode "single": `judge_generation`, the judge's output (a string; for items with `turns`, a list with one
  output per turn, each turn judged with the earlier conversation as context);
- mode "pairwise": `judge_generation` (the graded answer shown as A, the item's baseline answer as B) and
  `judge_generation_swapped` (the same pair in the other order); single-turn items only;
- `judge_model`, and `judge_error` when a request failed (that output is None and the record is judged again on
  the next run).

Items with a reference (`needs_reference` true, or no `needs_reference` and a `reference_answer`) use the
reference prompt with, per turn, `reference_answer`, else `reference`, else (single-turn) `expected_answer`.

Benchmarks with their own judge protocol (graders `mt-bench`: FastChat's prompts; `mt-bench-101`: OpenCompass's)
are judged with that protocol's prompts and sampling settings instead, whatever `judge.mode` and the prompt
settings say; `judge.tokens_to_generate` / `judge.temperature` left unset mean the protocol's own values.
A record that already holds its judge fields without a `judge_error` is not judged again, and finished records
are appended to a checkpoint file as they complete, so a killed run resumes without asking twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nemo_pipeline.config import InferenceConfig, JudgeConfig, SamplingDefaults, flat_values, resolve_inference
from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.evaluation._judge_protocol import JudgeProtocol
from nemo_pipeline.evaluation.graders import GRADERS
from nemo_pipeline.inference.client import RequestError, SamplingParams
from nemo_pipeline.inference.core import ServerEndpoint, close_client, open_client, serving
from nemo_pipeline.inference.prompts import Prompt, PromptConfig, load_prompt
from nemo_pipeline.jsonl import JsonlAppender, iter_jsonl, read_jsonl, write_jsonl_atomic
from nemo_pipeline.layout import judge_checkpoint_file, judge_settings_file
from nemo_pipeline.records import read_marker, write_marker

__all__ = [
    "JUDGE_MODES",
    "JudgePrompts",
    "check_judge_grader",
    "graded_by",
    "judge_checkpoint",
    "judge_files",
    "judge_grader",
    "judge_identity",
    "judge_overrides",
    "judge_prompts",
    "judge_settings_file",
    "load_judge_prompts",
    "run_judge",
]

log = logging.getLogger(__name__)

JUDGE_MODES = ("single", "pairwise")
_OUTPUT_KEYS = {"single": ("judge_generation",), "pairwise": ("judge_generation", "judge_generation_swapped")}


@dataclass(frozen=True)
class JudgePrompts:
    mode: str
    plain: PromptConfig
    reference: PromptConfig


def _judged_mode(grader: str) -> str | None:
    """The judge mode whose verdicts `grader` reads, as its spec says ("single" / "pairwise" follow `judge.mode`; a
    protocol's grader reads its own); None for a grader with no judge."""
    return GRADERS.get(grader).judge if grader in GRADERS else None


def judge_protocol(grader: str) -> JudgeProtocol | None:
    """The benchmark's own judge protocol that `grader` reads the verdicts of (its spec says); None for the others."""
    return GRADERS.get(grader).judge_protocol if grader in GRADERS else None


def judge_grader(mode: str) -> str:
    """The grader that reads the verdicts of judge `mode`; ConfigError for an unknown mode."""
    if mode in JUDGE_MODES:
        return next(grader for grader in GRADERS if _judged_mode(grader) == mode)
    raise ConfigError(f"judge.mode must be one of {', '.join(JUDGE_MODES)}, got {mode!r}")


def graded_by(grader: str, judge: JudgeConfig) -> str:
    """The grader of a benchmark whose default grader is `grader`: the generic judge graders follow `judge.mode`
    (`++judge.mode=pairwise`); a benchmark's own judge protocol, and every other grader, stays as it is. An unknown
    `judge.mode` is a ConfigError for every judged benchmark."""
    mode = _judged_mode(grader)
    if mode is None:
        return grader
    generic = judge_grader(judge.mode)
    return generic if mode in JUDGE_MODES else grader


def check_judge_grader(grader: str, judge: JudgeConfig) -> None:
    """ConfigError for an unknown `judge.mode`, or when a generic judge grader would read another mode's verdicts."""
    expected = judge_grader(judge.mode)
    if judge_protocol(grader) is None and expected != grader:
        raise ConfigError(
            f"grader={grader} reads judge.mode={_judged_mode(grader)} verdicts, but "
            f"judge.mode={judge.mode}; use grader={expected} for judge.mode={judge.mode}"
        )


def load_judge_prompts(judge: JudgeConfig) -> JudgePrompts:
    """The judge prompts for `judge.mode` (defaults judge/<mode> and judge/<mode>-reference); ConfigError if bad."""
    judge_grader(judge.mode)  # an unknown mode fails here
    plain = load_prompt(judge.prompt_config or f"judge/{judge.mode}")
    reference = load_prompt(judge.reference_prompt_config or f"judge/{judge.mode}-reference")
    for prompt in (plain, reference):
        if prompt.mode != "chat":
            raise ConfigError(f"{prompt.source}: a judge prompt must be in chat mode, got mode {prompt.mode!r}")
    return JudgePrompts(judge.mode, plain, reference)


def judge_checkpoint(output_file: Path) -> Path:
    """Where judge outputs for `output_file` are appended as they finish (read back on a rerun)."""
    return judge_checkpoint_file(output_file)


def _is_multi_turn(record: Mapping[str, Any]) -> bool:
    return isinstance(record.get("turns"), list)


def _answers(record: Mapping[str, Any]) -> list[str]:
    rid = record.get("id")
    if _is_multi_turn(record):
        answers = record.get("generations")
        if not isinstance(answers, list) or len(answers) != len(record["turns"]):
            raise DataError(
                f"item {rid!r} has {len(record['turns'])} turn(s) but 'generations' is {answers!r}; "
                "generate every turn (the generate stage does for items with 'turns') before judging"
            )
        return [a if isinstance(a, str) else "" for a in answers]
    if "generation" not in record:
        raise DataError(f"item {rid!r} has no 'generation'; run the generate stage before judging")
    return [record["generation"] or ""]


def _questions(record: Mapping[str, Any], answers: Sequence[str]) -> list[str]:
    if not _is_multi_turn(record):
        return [str(record.get("problem", ""))]
    turns = [str(t) for t in record["turns"]]
    questions = [turns[0]]
    for k in range(1, len(turns)):
        earlier = "\n\n".join(f"User: {turns[j]}\n\nAssistant: {answers[j]}" for j in range(k))
        questions.append(
            "[Earlier conversation, for context only]\n"
            f"{earlier}\n\n"
            "[The user's follow-up, which the answer to evaluate replies to]\n"
            f"{turns[k]}"
        )
    return questions


def _references(record: Mapping[str, Any], num_turns: int) -> list[str | None]:
    """One reference per turn, or None where the item has none (or `needs_reference` is false)."""
    needs = record.get("needs_reference")
    if needs is False:
        return [None] * num_turns
    for key in ("reference_answer", "reference"):
        value = record.get(key)
        if isinstance(value, list) and value:
            return [str(value[k]) if k < len(value) and value[k] is not None else None for k in range(num_turns)]
        if isinstance(value, str) and value:
            return [value] + [None] * (num_turns - 1)
    expected = record.get("expected_answer")
    if num_turns == 1 and expected is not None and expected != "":
        return [str(expected)]
    if needs:
        log.warning("item %r needs a reference but has none; judged without one", record.get("id"))
    return [None] * num_turns


def judge_prompts(
    record: Mapping[str, Any], prompts: JudgePrompts, baseline_field: str = "baseline_answer"
) -> dict[str, list[Prompt]]:
    """The judge requests for one record: output field -> one rendered prompt per turn (pure; no request)."""
    answers = _answers(record)
    questions = _questions(record, answers)
    references = _references(record, len(answers))
    rid = record.get("id")
    if prompts.mode == "single":
        rendered = []
        for question, answer, reference in zip(questions, answers, references, strict=True):
            fields = {"id": rid, "question": question, "answer": answer, "reference": reference or ""}
            rendered.append((prompts.reference if reference else prompts.plain).render(fields))
        return {"judge_generation": rendered}
    if _is_multi_turn(record):
        raise DataError(f"item {rid!r}: pairwise judging of multi-turn items is not supported; use judge.mode=single")
    baseline = record.get(baseline_field)
    if not isinstance(baseline, str):
        raise DataError(
            f"item {rid!r} has no baseline answer in '{baseline_field}' (got {baseline!r}); pairwise judging needs "
            "one per item (set judge.baseline_field)"
        )
    prompt = prompts.reference if references[0] else prompts.plain
    base = {"id": rid, "question": questions[0], "reference": references[0] or ""}
    return {
        "judge_generation": [prompt.render({**base, "answer_a": answers[0], "answer_b": baseline})],
        "judge_generation_swapped": [prompt.render({**base, "answer_a": baseline, "answer_b": answers[0]})],
    }


def _is_judged(record: Mapping[str, Any], keys: tuple[str, ...]) -> bool:
    return all(key in record for key in keys) and not record.get("judge_error")


def _read_checkpoint(path: Path | None) -> dict[str, dict[str, Any]]:
    if path is None or not path.exists():
        return {}
    JsonlAppender(path).close()  # drops a record torn by a kill mid-write
    return {str(entry["id"]): entry for entry in iter_jsonl(path) if "id" in entry}


def _merge(record: dict[str, Any], entry: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**record, **{k: v for k, v in entry.items() if k != "id"}}
    if not entry.get("judge_error"):
        merged.pop("judge_error", None)
    return merged


@dataclass(frozen=True)
class _Plan:
    """What to ask the judge for one record: the project's prompts (`prompts`) or a benchmark's `protocol`."""

    prompts: JudgePrompts | None
    protocol: JudgeProtocol | None
    baseline_field: str

    @property
    def mode(self) -> str:
        return self.protocol.grader if self.protocol is not None else self.prompts.mode  # type: ignore[union-attr]

    @property
    def output_keys(self) -> tuple[str, ...]:
        return ("judge_generation",) if self.protocol is not None else _OUTPUT_KEYS[self.mode]

    def requests(self, record: Mapping[str, Any]) -> dict[str, list[Prompt]]:
        if self.protocol is not None:
            return {"judge_generation": list(self.protocol.render(record))}
        assert self.prompts is not None
        return judge_prompts(record, self.prompts, self.baseline_field)

    def sampling(self, judge: JudgeConfig) -> SamplingParams:
        """The judge's sampling: the config's values where set, else the protocol's, else the global defaults (the
        project's judge prompts: their stop strings)."""
        if self.protocol is not None:
            own = SamplingDefaults(temperature=self.protocol.temperature, tokens_to_generate=self.protocol.max_tokens)
        else:
            own = SamplingDefaults(stop=self.prompts.plain.stop if self.prompts is not None else ())
        asked = InferenceConfig(temperature=judge.temperature, tokens_to_generate=judge.tokens_to_generate)
        return SamplingParams.of(resolve_inference(asked, own, where="judge."))


def _plan(judge: JudgeConfig, grader: str | None) -> _Plan:
    """The plan for `grader` (None: the grader of `judge.mode`)."""
    grader = grader or judge_grader(judge.mode)
    check_judge_grader(grader, judge)
    protocol = judge_protocol(grader)
    if protocol is not None:
        return _Plan(None, protocol, judge.baseline_field)
    return _Plan(load_judge_prompts(judge), None, judge.baseline_field)


class _Judge:
    """One client to the judge server; its limiter (adaptive unless `judge.max_concurrent_requests` pins it) bounds
    the requests in flight."""

    def __init__(self, judge: JudgeConfig, endpoint: ServerEndpoint, plan: _Plan) -> None:
        self.endpoint = endpoint
        self.client = open_client(endpoint, judge, where="judge.")
        self.params = plan.sampling(judge)
        self.plan = plan
        self.requests = self.failures = 0

    async def ask(self, prompt: Prompt) -> tuple[str | None, str]:
        assert isinstance(prompt, list)
        self.requests += 1
        try:
            completion = await self.client.chat(prompt, self.params)
        except RequestError as exc:
            self.failures += 1
            return None, str(exc)
        return completion.text, ""

    async def fields(self, record: Mapping[str, Any]) -> dict[str, Any]:
        planned = self.plan.requests(record)
        multi = _is_multi_turn(record)
        out: dict[str, Any] = {"id": record["id"], "judge_model": self.client.model}
        errors: list[str] = []
        for key, prompts in planned.items():
            results = await asyncio.gather(*(self.ask(p) for p in prompts))
            texts = [text for text, _ in results]
            errors += [error for _, error in results if error]
            out[key] = texts if multi else texts[0]
        if errors:
            out["judge_error"] = errors[0]
        return out


async def _judge_all(
    judge: JudgeConfig,
    endpoint: ServerEndpoint,
    plan: _Plan,
    todo: Sequence[tuple[dict[str, Any], JsonlAppender | None]],
) -> list[dict[str, Any]]:
    runner = _Judge(judge, endpoint, plan)
    try:
        await runner.client.prepare()

        async def one(index: int) -> tuple[int, dict[str, Any]]:
            return index, await runner.fields(todo[index][0])

        tasks = [asyncio.create_task(one(index)) for index in range(len(todo))]
        entries: list[dict[str, Any]] = [{} for _ in todo]
        try:
            for finished in asyncio.as_completed(tasks):
                index, entry = await finished
                entries[index] = entry
                checkpoint = todo[index][1]
                if checkpoint is not None:
                    checkpoint.append(entry)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await close_client(runner.client, runner.endpoint)
    if runner.failures:
        log.warning("judge: %d of %d request(s) failed; those records are judged again on the next run",
                    runner.failures, runner.requests)  # fmt: skip
        if runner.failures == runner.requests:
            first = next(e["judge_error"] for e in entries if e.get("judge_error"))
            raise RequestError(f"judge: every one of {runner.requests} request(s) failed; first error: {first}")
    return entries


def _judge_batches(
    batches: Sequence[tuple[list[dict[str, Any]], Path | None]], judge: JudgeConfig, log_dir: Path, grader: str | None
) -> list[list[dict[str, Any]]]:
    """Judge several record lists with one judge server (started only when something is left to judge)."""
    plan = _plan(judge, grader)
    results: list[list[dict[str, Any]]] = []
    pending: list[tuple[int, int, Path | None]] = []  # (batch, position, checkpoint)
    for b, (records, checkpoint) in enumerate(batches):
        saved = _read_checkpoint(checkpoint)
        merged = []
        for position, record in enumerate(records):
            if "id" not in record:
                raise DataError(f"record {position} has no 'id'; judged records need stable ids")
            if not _is_judged(record, plan.output_keys) and str(record["id"]) in saved:
                record = _merge(record, saved[str(record["id"])])
            if not _is_judged(record, plan.output_keys):
                plan.requests(record)  # bad data fails before a server starts
                pending.append((b, position, checkpoint))
            merged.append(record)
        results.append(merged)
    if not pending:
        return results
    appenders = {path: JsonlAppender(path) for path in {c for _, _, c in pending if c is not None}}
    try:
        with serving(judge.server, log_dir) as endpoint:
            todo = [(results[b][p], appenders.get(c) if c is not None else None) for b, p, c in pending]
            entries = asyncio.run(_judge_all(judge, endpoint, plan, todo))
    finally:
        for appender in appenders.values():
            appender.close()
    for (b, p, _), entry in zip(pending, entries, strict=True):
        results[b][p] = _merge(results[b][p], entry)
    return results


def run_judge(
    records: list[dict[str, Any]],
    judge: JudgeConfig,
    log_dir: Path,
    *,
    checkpoint: Path | None = None,
    grader: str | None = None,
) -> list[dict[str, Any]]:
    """Return `records` (same order) with the judge fields added, judging only records that lack them.

    `grader` picks a benchmark's judge protocol (`mt-bench`, `mt-bench-101`); None: the grader of `judge.mode`. A
    judge server is started from `judge.server` unless it has an address (logs in `log_dir`); with `checkpoint`,
    each judged record is appended there as it finishes and read back on a rerun.
    """
    return _judge_batches([(records, checkpoint)], judge, log_dir, grader)[0]


# The settings that decide what the judge says; a change to any of them means judging again. The address, the
# concurrency and the request bounds do not (on a cluster the address is a port chosen per job).
_IDENTITY_KEYS = (
    "judge.mode",
    "judge.prompt_config",
    "judge.reference_prompt_config",
    "judge.baseline_field",
    "judge.temperature",
    "judge.tokens_to_generate",
    "judge.server.server_type",
    "judge.server.model",
)
_JUDGE_FIELDS = ("judge_generation", "judge_generation_swapped", "judge_model", "judge_error")


def judge_identity(judge: JudgeConfig) -> dict[str, object]:
    """The judge settings a verdict depends on, as flat keys (recorded beside judged files and in .graded)."""
    flat = judge_overrides(judge)
    return {key: flat[key] for key in _IDENTITY_KEYS}


def _forget_other_judges(path: Path, judge: JudgeConfig, grader: str | None) -> list[dict[str, Any]]:
    """The records of `path`; if another judge (or protocol) judged them, without its fields, and its checkpoint
    removed."""
    records = read_jsonl(path)
    settings = judge_settings_file(path)
    protocol = grader if grader is not None and judge_protocol(grader) is not None else judge.mode
    identity = {**judge_identity(judge), "judge.protocol": protocol}
    recorded = read_marker(settings)
    if recorded is not None and recorded != identity:
        changed = sorted(k for k in identity if recorded.get(k) != identity[k])
        log.warning("%s was judged with other settings (%s): judging it again", path, ", ".join(changed))
        records = [{k: v for k, v in r.items() if k not in _JUDGE_FIELDS} for r in records]
        judge_checkpoint(path).unlink(missing_ok=True)
    write_marker(settings, identity)
    return records


def judge_files(paths: Sequence[Path], judge: JudgeConfig, log_dir: Path, grader: str | None = None) -> None:
    """Judge every record of each output file in place (one judge server for all files) for `grader` (None: the
    grader of `judge.mode`); resumable through `judge_checkpoint(path)`. Records judged with other settings
    (`judge_identity`, or another protocol) are judged again."""
    check_judge_grader(grader or judge_grader(judge.mode), judge)
    batches = [(_forget_other_judges(path, judge, grader), judge_checkpoint(path)) for path in paths]
    judged = _judge_batches(batches, judge, log_dir, grader)
    # Records stripped of another judge's fields lack them until judged again, so they always differ from `after`.
    for path, (before, _), after in zip(paths, batches, judged, strict=True):
        if after != before:
            write_jsonl_atomic(path, after)


def judge_overrides(judge: JudgeConfig, prefix: str = "judge.") -> dict[str, object]:
    """Every judge setting as flat `prefix`-ed keys (judge.server.address, judge.mode, ...), for the evaluate job's
    `++key=value` overrides."""
    return flat_values(judge, prefix)
