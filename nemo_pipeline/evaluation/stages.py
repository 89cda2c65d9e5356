"""The evaluate and compute-metrics stages: files in, files out, each rerunnable alone."""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nemo_pipeline.config import EvaluateConfig, MetricsConfig, SandboxConfig
from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.evaluation._pool import grade_all
from nemo_pipeline.evaluation.graders import GRADERS, GraderContext
from nemo_pipeline.evaluation.judge_stage import JUDGE_GRADERS, judge_files, judge_grader, judge_identity
from nemo_pipeline.evaluation.metrics import compute_metrics
from nemo_pipeline.jsonl import read_jsonl, write_jsonl_atomic

__all__ = [
    "GRADERS_NEEDING_SANDBOX",
    "EvaluateResult",
    "graded_marker",
    "merge_chunk_files",
    "run_compute_metrics",
    "run_evaluate",
    "seed_of",
]

GRADERS_NEEDING_SANDBOX = frozenset({"code"})
_SEED_FILE = re.compile(r"^output(?:-rs(\d+))?\.jsonl$")


@dataclass(frozen=True)
class EvaluateResult:
    file: Path
    graded: int
    correct: int
    no_answer: int
    timeouts: int


def seed_of(path: Path) -> int | None:
    """0.. for output-rs<seed>.jsonl, None for the greedy output.jsonl."""
    match = _SEED_FILE.match(path.name)
    if not match:
        raise DataError(f"{path}: not an output file (expected output.jsonl or output-rs<seed>.jsonl)")
    return None if match.group(1) is None else int(match.group(1))


@contextlib.contextmanager
def _sandbox_for(grader: str, cfg: SandboxConfig, log_dir: Path) -> Iterator[str | None]:
    if grader not in GRADERS_NEEDING_SANDBOX:
        yield None
        return
    if cfg.address:
        yield cfg.address
        return
    from nemo_pipeline.sandbox import LocalSandbox

    with LocalSandbox(start_timeout_s=cfg.start_timeout_s, log_path=log_dir / "sandbox.log") as sandbox:
        yield sandbox.url


def graded_marker(path: Path) -> Path:
    return path.with_name(path.name + ".graded")


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
    """Grade every item of each input file and rewrite it atomically with the verdict fields added."""
    GRADERS.get(cfg.grader)  # unknown grader -> ConfigError before any work
    files = [Path(name) for name in cfg.input_files]
    if cfg.merge_chunks:
        if len(files) != 1:
            raise DataError("merge_chunks needs exactly one input file to merge into")
        merge_chunk_files([Path(p) for p in cfg.merge_chunks], files[0])
    for path in files:
        if not path.exists():
            raise DataError(f"input file {path} does not exist (did the generate stage run?)")
    log_dir = Path(cfg.log_dir) if cfg.log_dir else files[0].parent / "logs"
    if cfg.grader in JUDGE_GRADERS:
        _run_judge_first(cfg, files, log_dir)
    workers = cfg.grading.workers or os.cpu_count() or 1
    results = []
    with _sandbox_for(cfg.grader, cfg.sandbox, log_dir) as sandbox_url:
        context = GraderContext(sandbox_url=sandbox_url, timeout_s=cfg.grading.timeout_s)
        for path in files:
            records = read_jsonl(path)
            verdicts = grade_all(cfg.grader, records, context, timeout_s=cfg.grading.timeout_s, workers=workers)
            graded: list[dict[str, Any]] = []
            for record, verdict in zip(records, verdicts, strict=True):
                graded.append(
                    {
                        **record,
                        "predicted_answer": verdict.predicted,
                        "is_correct": verdict.correct,
                        "grading_reason": verdict.reason,
                        "scores": dict(verdict.scores),
                    }
                )
            write_jsonl_atomic(path, graded)
            marker: dict[str, Any] = {"grader": cfg.grader, "items": len(graded)}
            if cfg.grader in JUDGE_GRADERS:
                marker["judge"] = judge_identity(cfg.judge)
            graded_marker(path).write_text(json.dumps(marker) + "\n")
            results.append(
                EvaluateResult(
                    file=path,
                    graded=len(graded),
                    correct=sum(v.correct for v in verdicts),
                    no_answer=sum(v.predicted is None for v in verdicts),
                    timeouts=sum(v.reason == "timeout" for v in verdicts),
                )
            )
    return results


def _run_judge_first(cfg: EvaluateConfig, files: list[Path], log_dir: Path) -> None:
    """The judge graders parse a judge model's outputs: ask the judge (resumably) for every record lacking them."""
    expected = judge_grader(cfg.judge.mode)
    if expected != cfg.grader:
        raise ConfigError(
            f"grader={cfg.grader} reads judge.mode={JUDGE_GRADERS[cfg.grader]} verdicts, but "
            f"judge.mode={cfg.judge.mode}; use grader={expected} for judge.mode={cfg.judge.mode}"
        )
    judge_files(files, cfg.judge, log_dir)


def run_compute_metrics(cfg: MetricsConfig) -> dict[str, Any]:
    """Read every graded output file of one benchmark and write metrics.json beside them."""
    directory = Path(cfg.benchmark_dir)
    files = sorted(p for p in directory.glob("output*.jsonl") if _SEED_FILE.match(p.name))
    if not files:
        raise DataError(f"{directory}: no output.jsonl or output-rs<seed>.jsonl files to compute metrics from")
    records_by_seed: dict[int | None, list[dict[str, Any]]] = {}
    for path in files:
        records = read_jsonl(path)
        ungraded = [r.get("id") for r in records if "is_correct" not in r]
        if ungraded:
            raise DataError(f"{path}: {len(ungraded)} item(s) not graded (first: {ungraded[0]!r}); run evaluate first")
        records_by_seed[seed_of(path)] = records
    if None in records_by_seed and len(records_by_seed) > 1:
        raise DataError(f"{directory}: holds both greedy output.jsonl and seeded output-rs*.jsonl files; keep one kind")
    metrics = compute_metrics(records_by_seed)
    metrics["benchmark"] = directory.name
    out = directory / "metrics.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metrics, indent=2, sort_keys=True))
    os.replace(tmp, out)
    return metrics
