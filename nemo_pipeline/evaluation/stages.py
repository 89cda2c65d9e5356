"""The evaluate and compute-metrics stages: files in, files out, each rerunnable alone."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nemo_pipeline.config import EvaluateConfig, MetricsConfig, SandboxConfig
from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.evaluation._pool import grade_all
from nemo_pipeline.evaluation.graders import GRADERS, GraderContext
from nemo_pipeline.evaluation.judge_stage import judge_files, judge_identity
from nemo_pipeline.evaluation.metrics import compute_metrics, is_grader_error
from nemo_pipeline.jsonl import iter_numbered_jsonl, read_jsonl, write_jsonl_atomic
from nemo_pipeline.layout import (
    chunk_file,
    generated_ids,
    graded_marker,
    grading_stamp,
    is_complete,
    is_seed_file,
    metrics_file,
    metrics_stamp,
    metrics_stamp_file,
    output_files_in,
    sandbox_log,
    seed_of,
    stage_log_dir,
)
from nemo_pipeline.records import (
    GradedLine,
    GradedMarker,
    Grading,
    MetricsRecord,
    is_graded,
    read_graded_marker,
    write_graded_marker,
    write_marker,
    write_metrics,
)

__all__ = [
    "EvaluateResult",
    "merge_chunk_files",
    "run_compute_metrics",
    "run_evaluate",
]


@dataclass(frozen=True)
class EvaluateResult:
    file: Path
    graded: int
    correct: int
    no_answer: int
    timeouts: int
    skipped: bool = False  # already graded for this grader, judge and selection
    grader_errors: int = 0  # verdicts that are grader or sandbox failures (metrics.is_grader_error)


@contextlib.contextmanager
def _sandbox_for(grader: str, cfg: SandboxConfig, log_dir: Path, workers: int) -> Iterator[str | None]:
    if not GRADERS.get(grader).needs_sandbox:
        yield None
        return
    if cfg.address:
        yield cfg.address
        return
    from nemo_pipeline.sandbox import LocalSandbox

    # As many execution slots as grading workers, so that no check waits for a slot past its client's deadline.
    slots = min(64, max(4, workers))
    with LocalSandbox(workers=slots, start_timeout_s=cfg.start_timeout_s, log_path=sandbox_log(log_dir)) as sandbox:
        yield sandbox.url


def merge_chunk_files(chunks: list[Path], target: Path) -> None:
    """Concatenate chunk outputs into `target` (ids must be unique); the chunks stay for resuming."""
    missing = [str(p) for p in chunks if not p.exists()]
    if missing:
        raise DataError(f"cannot merge chunks into {target}: missing {missing}")
    merged: dict[str, dict[str, Any]] = {}
    for chunk in chunks:
        for record in read_jsonl(chunk):
            if record["id"] in merged:
                raise DataError(f"{chunk}: id {record['id']!r} is also in another chunk")
            merged[record["id"]] = record
    write_jsonl_atomic(target, merged.values())


def run_evaluate(cfg: EvaluateConfig) -> list[EvaluateResult]:
    """Grade every input file not yet graded for this grader, judge and selection; each file is rewritten
    atomically with the verdict fields added and gets a graded marker recording what it was graded for.

    A file whose verdicts are grader errors (the grader or the sandbox failed, not the answer) for more than
    `grading.max_error_rate` of its items is still written, but gets no marker (a rerun grades it again), and the
    stage fails with DataError naming the count and the first such item once every file is graded."""
    spec = GRADERS.get(cfg.grader)  # unknown grader -> ConfigError before any work
    if not 0.0 <= cfg.grading.max_error_rate <= 1.0:
        raise ConfigError(f"grading.max_error_rate must be between 0 and 1, got {cfg.grading.max_error_rate}")
    files = [Path(name) for name in cfg.input_files]
    if cfg.num_chunks > 1:
        for path in files:
            merge_chunk_files([chunk_file(path, c, cfg.num_chunks) for c in range(cfg.num_chunks)], path)
    for path in files:
        if not path.exists():
            raise DataError(f"input file {path} does not exist (did the generate stage run?)")
    judge = judge_identity(cfg.judge) if spec.needs_judge else None
    generated = {path: generated_ids(path, cfg.num_chunks) for path in files}
    unfinished = [str(path) for path, ids in generated.items() if ids is None]
    if cfg.require_generated and unfinished:
        raise DataError(
            f"generation is not complete for {', '.join(unfinished)} (no done marker for this selection); "
            "its generate job failed or is still running: rerun the same eval.py command"
        )
    # A file made by hand, with no done marker, is graded whole.
    selections = {path: ids if ids is not None else _all_ids(path) for path, ids in generated.items()}
    stamps = {path: grading_stamp(cfg.grader, judge, ids) for path, ids in selections.items()}
    todo = [path for path in files if not is_complete(graded_marker(path), stamps[path])]
    results = [EvaluateResult(path, 0, 0, 0, 0, skipped=True) for path in files if path not in todo]
    if not todo:
        return results
    log_dir = stage_log_dir(cfg.log_dir, files[0])
    if spec.needs_judge:
        _run_judge_first(cfg, todo, log_dir)
    workers = cfg.grading.workers or os.cpu_count() or 1
    failures: list[str] = []
    with _sandbox_for(cfg.grader, cfg.sandbox, log_dir, workers) as sandbox_url:
        context = GraderContext(sandbox_url=sandbox_url, timeout_s=cfg.grading.timeout_s)
        for path in todo:
            records = read_jsonl(path)
            verdicts = grade_all(cfg.grader, records, context, timeout_s=cfg.grading.timeout_s, workers=workers)
            gradings = [Grading(v.correct, v.predicted, v.reason, dict(v.scores)) for v in verdicts]
            graded = [{**record, **grading.to_json()} for record, grading in zip(records, gradings, strict=True)]
            write_jsonl_atomic(path, graded)
            errors = [
                (r.get("id"), g) for r, g in zip(records, gradings, strict=True) if is_grader_error(g.grading_reason)
            ]
            if len(errors) > cfg.grading.max_error_rate * len(graded):
                first_id, first = errors[0]
                failures.append(
                    f"{path}: {len(errors)} of {len(graded)} verdicts are grader errors (more than "
                    f"grading.max_error_rate={cfg.grading.max_error_rate:g}); first: item {first_id!r}: "
                    f"{first.grading_reason}"
                )
            else:
                write_graded_marker(
                    graded_marker(path), GradedMarker(stamps[path], len(graded), tuple(selections[path]))
                )
            results.append(
                EvaluateResult(
                    file=path,
                    graded=len(graded),
                    correct=sum(v.correct for v in verdicts),
                    no_answer=sum(v.predicted is None for v in verdicts),
                    timeouts=sum(v.reason == "timeout" for v in verdicts),
                    grader_errors=len(errors),
                )
            )
    if failures:
        more = f" (and {len(failures) - 1} more file(s))" if len(failures) > 1 else ""
        raise DataError(failures[0] + more)
    return results


def _all_ids(path: Path) -> list[str]:
    return [str(record["id"]) for record in read_jsonl(path)]


def _run_judge_first(cfg: EvaluateConfig, files: list[Path], log_dir: Path) -> None:
    """The judge graders parse a judge model's outputs: ask the judge (resumably) for every record lacking them."""
    judge_files(files, cfg.judge, log_dir, grader=cfg.grader)


def run_compute_metrics(cfg: MetricsConfig) -> dict[str, Any]:
    """Read the graded output files of one benchmark (`input_files`, or every one in the folder) and write
    metrics.json beside them, counting only the items each file's graded marker says were selected."""
    directory = Path(cfg.benchmark_dir)
    if cfg.input_files:
        files = [directory / name for name in cfg.input_files]
        for path in files:
            if not is_seed_file(path):
                raise ConfigError(
                    f"input_files: {path.name} is not an output file (output.jsonl or output-rs<N>.jsonl)"
                )
    else:
        files = output_files_in(directory)
    if not files:
        raise DataError(f"{directory}: no output.jsonl or output-rs<seed>.jsonl files to compute metrics from")
    records_by_seed: dict[int | None, list[GradedLine]] = {}
    for path in files:
        if not path.exists():
            raise DataError(f"{path} does not exist (did the generate and evaluate stages run?)")
        lines = list(iter_numbered_jsonl(path))
        marker = read_graded_marker(graded_marker(path))
        if marker is not None and marker.ids is not None:
            selected = set(marker.ids)
            lines = [(n, r) for n, r in lines if str(r.get("id")) in selected]
            if len(lines) != len(selected):
                raise DataError(f"{path}: {len(selected) - len(lines)} selected item(s) missing; rerun generate")
        ungraded = [r.get("id") for _, r in lines if not is_graded(r)]
        if ungraded:
            raise DataError(f"{path}: {len(ungraded)} item(s) not graded (first: {ungraded[0]!r}); run evaluate first")
        records_by_seed[seed_of(path)] = [GradedLine.read(r, f"{path}:{n}") for n, r in lines]
    if None in records_by_seed and len(records_by_seed) > 1:
        raise DataError(f"{directory}: holds both greedy output.jsonl and seeded output-rs*.jsonl files; keep one kind")
    metrics = compute_metrics(records_by_seed)
    record = MetricsRecord(
        benchmark=directory.name,
        num_seeds=metrics["num_seeds"],
        metrics=metrics["metrics"],
        protocol=cfg.protocol,
        headline=metrics.get("headline"),
    )
    write_metrics(metrics_file(directory), record)
    write_marker(metrics_stamp_file(directory), metrics_stamp(files))
    return record.to_json()
