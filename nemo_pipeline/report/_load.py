"""Reading one output directory: metrics.json and graded output files per benchmark, never crashing on a gap."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from nemo_pipeline.errors import DataError
from nemo_pipeline.jsonl import count_records
from nemo_pipeline.layout import RunLayout, is_seed_file, metrics_file, output_files_in, seed_of
from nemo_pipeline.records import (
    Generated,
    Grading,
    UnreadableRecordError,
    as_text,
    read_metrics,
    read_run_record,
)
from nemo_pipeline.report._stats import proportion_std_err

__all__ = ["BenchmarkRun", "GradedItem", "ModelRun", "load_run", "read_graded_items", "verdict_of"]


@dataclass(frozen=True)
class GradedItem:
    """One graded answer: what the report needs from a line of `output*.jsonl`."""

    id: str
    seed: int | None  # None: greedy `output.jsonl`
    subset: str | None
    correct: bool | None  # None: the line has not been graded yet
    predicted: str | None
    expected: str | None
    problem: str
    generation: str
    reason: str
    scores: tuple[tuple[str, float], ...] = ()  # extra per-item scores (ifeval strict/loose, judge ratings)


def verdict_of(item: GradedItem) -> str:
    """'correct', 'wrong', 'no-answer' (nothing extracted and not correct) or 'ungraded'."""
    if item.correct is None:
        return "ungraded"
    if item.correct:
        return "correct"
    return "no-answer" if item.predicted is None else "wrong"


@dataclass(frozen=True)
class BenchmarkRun:
    """One benchmark of one run. `metrics is None` means metrics.json is missing or unreadable (`problem` says why)."""

    name: str
    directory: Path
    num_seeds: int
    metrics: dict[str, dict[str, float]] | None
    output_files: tuple[Path, ...]
    problem: str = ""
    protocol: str = "official"  # the benchmark protocol its numbers follow (metrics.json "protocol")
    headline: str | None = None  # the benchmark's headline metric as its protocol names it (metrics.json "headline")

    @property
    def ok(self) -> bool:
        return self.metrics is not None


@dataclass(frozen=True)
class ModelRun:
    """One output directory: its display name and its benchmarks, sorted by name. `problem` says why a run of a
    campaign has no results at all (then `benchmarks` is empty)."""

    name: str
    directory: Path
    benchmarks: dict[str, BenchmarkRun] = field(default_factory=dict)
    problem: str = ""


def _seed_of(path: Path) -> int | None:
    return seed_of(path) if is_seed_file(path) else None


def _output_files(directory: Path) -> tuple[Path, ...]:
    files = [p for p in output_files_in(directory) if p.is_file()]
    return tuple(sorted(files, key=lambda p: (-1 if _seed_of(p) is None else _seed_of(p), p.name)))


def _upgrade(block: dict[str, float], num_seeds: int) -> dict[str, float]:
    """Read metrics.json files written before the current names: gen_seconds (a sum of per-item times, not a wall
    time) is sum_item_seconds; a greedy accuracy without accuracy_std_err gets it from accuracy and num_entries."""
    block = {("sum_item_seconds" if k == "gen_seconds" else k): v for k, v in block.items()}
    if num_seeds == 0 and "accuracy" in block and "accuracy_std_err" not in block and "num_entries" in block:
        block["accuracy_std_err"] = proportion_std_err(block["accuracy"], int(block["num_entries"]))
    return block


def _load_metrics(path: Path) -> tuple[int, dict[str, dict[str, float]], str, str | None]:
    """Parse metrics.json; raise DataError saying what is wrong with it."""
    record = read_metrics(path)
    blocks = {subset: _upgrade(block, record.num_seeds) for subset, block in record.metrics.items()}
    return record.num_seeds, blocks, record.protocol, record.headline


def _load_benchmark(directory: Path) -> BenchmarkRun:
    outputs = _output_files(directory)
    metrics_path = metrics_file(directory)
    if not metrics_path.is_file():
        if outputs:
            lines = sum(count_records(p) for p in outputs)
            why = f"no metrics.json ({len(outputs)} output file(s), {lines} line(s): grading or metrics did not finish)"
        else:
            why = "no metrics.json and no output files (generation did not run or failed)"
        return BenchmarkRun(directory.name, directory, 0, None, outputs, why)
    try:
        num_seeds, blocks, protocol, headline = _load_metrics(metrics_path)
    except DataError as exc:
        return BenchmarkRun(directory.name, directory, 0, None, outputs, f"unreadable metrics.json: {exc}")
    return BenchmarkRun(directory.name, directory, num_seeds, blocks, outputs, protocol=protocol, headline=headline)


def _model_name(directory: Path) -> str:
    """A campaign model's entry name, else the model its run.json names, else the folder's name."""
    run_json = RunLayout(directory).run_record
    if run_json.is_file():
        try:
            record = read_run_record(run_json)
        except UnreadableRecordError:
            return directory.resolve().name
        name = (record.name or "").strip() or record.model.strip()
        if name:
            return name
    return directory.resolve().name


def load_run(directory: str | Path, name: str | None = None) -> ModelRun:
    """Load every benchmark under `<directory>/eval-results/`; raise DataError if there is nothing to summarize.

    The run is called `name`, else by its campaign entry or model (run.json), else by its folder."""
    directory = Path(directory)
    results = RunLayout(directory).results_dir
    if not directory.is_dir():
        raise DataError(f"output directory {directory} does not exist: pass the output_dir of an evaluation run")
    if not results.is_dir():
        raise DataError(
            f"{directory} has no eval-results/ folder: pass the output_dir of an evaluation run "
            "(it holds eval-results/<benchmark>/metrics.json)"
        )
    benchmarks = {p.name: _load_benchmark(p) for p in sorted(results.iterdir()) if p.is_dir()}
    if not benchmarks:
        raise DataError(f"{results} holds no benchmark folders: did the evaluation start?")
    return ModelRun(name or _model_name(directory), directory, benchmarks)


def read_graded_items(path: Path) -> tuple[list[GradedItem], list[str]]:
    """Read a graded output file leniently: unreadable lines are skipped and described in the returned warnings."""
    seed = _seed_of(path)
    items: list[GradedItem] = []
    bad: list[int] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                bad.append(number)
                continue
            if not isinstance(record, dict) or "id" not in record:
                bad.append(number)
                continue
            grading = Grading.of(record)
            subset = record.get("subset")
            items.append(
                GradedItem(
                    id=str(record["id"]),
                    seed=seed,
                    subset=None if subset is None else str(subset),
                    correct=None if grading is None else grading.is_correct,
                    predicted=None if grading is None else grading.predicted_answer,
                    expected=None if record.get("expected_answer") is None else as_text(record["expected_answer"]),
                    problem=as_text(record.get("problem")),
                    generation=Generated.text_of(record),
                    reason="" if grading is None else grading.grading_reason,
                    scores=() if grading is None else tuple(grading.scores.items()),
                )
            )
    warnings = []
    if bad:
        warnings.append(f"{path}: skipped {len(bad)} unreadable line(s) (first at line {bad[0]})")
    return items, warnings
