"""Build a Summary of one or more output directories, optionally compared with a baseline directory, or of a
campaign directory (campaign.json and one run directory per model)."""

from __future__ import annotations

import datetime as _dt
import itertools
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.layout import RunLayout
from nemo_pipeline.report._campaign import Campaign, ModelInfo, is_campaign, read_campaign, read_run_info
from nemo_pipeline.report._cost import RunCost, run_cost
from nemo_pipeline.report._failures import job_failures
from nemo_pipeline.report._load import BenchmarkRun, GradedItem, ModelRun, load_run, read_graded_items, verdict_of
from nemo_pipeline.report._published import PublishedComparison, PublishedModel, compare_published
from nemo_pipeline.report._stats import PairedTest, paired_test

__all__ = [
    "ALL",
    "BenchmarkItems",
    "Comparison",
    "ItemAnswer",
    "Summary",
    "SummaryOptions",
    "build_campaign_summary",
    "build_summary",
    "headline_metric",
    "with_published",
]

ALL = "all"


@dataclass(frozen=True)
class SummaryOptions:
    """Knobs of the summary and report."""

    title: str = "Evaluation summary"
    max_items: int = 2000  # graded items embedded in the HTML browser, per benchmark and model
    max_text_chars: int = 20_000  # problem / generation text embedded per item
    resamples: int = 2_000  # paired-bootstrap resamples (only for runs with seeds)
    seed: int = 0  # bootstrap random seed, for reproducible p-values
    cost_per_gpu_hour: float | None = None  # overrides the rate in campaign.json / run.json
    matrix_max_items: int = 20_000  # items per benchmark and model in the side-by-side matrix (two or more runs)
    matrix_text_chars: int = 160  # problem text per matrix row (the item browser has the whole text)


@dataclass(frozen=True)
class ItemAnswer:
    """One item of one run, as the side-by-side matrix shows it: the verdict (with seeds: correct when most samples
    are), the first sample's answer, and how many samples were correct."""

    subset: str | None
    verdict: str  # correct | wrong | no-answer | ungraded
    predicted: str | None
    correct: int
    samples: int
    expected: str | None
    problem: str  # clipped to SummaryOptions.matrix_text_chars


@dataclass(frozen=True)
class BenchmarkItems:
    """Per-item outcomes of one benchmark of one run, and the items kept for the browser."""

    outcomes: dict[str, dict[str, list[bool]]]  # subset ("all" included) -> item id -> one bool per seed
    browser: list[GradedItem]  # capped at SummaryOptions.max_items
    total: int  # graded lines read
    ungraded: int  # lines without is_correct
    answers: dict[str, ItemAnswer] = field(default_factory=dict)  # item id -> its cell in the matrix (file order)
    num_ids: int = 0  # distinct item ids read (answers holds up to SummaryOptions.matrix_max_items of them)


@dataclass(frozen=True)
class Comparison:
    """One model against the baseline on one benchmark subset."""

    model: str
    benchmark: str
    subset: str
    metric: str
    model_value: float | None  # from metrics.json
    baseline_value: float | None
    test: PairedTest | None  # None: no shared graded items
    note: str = ""

    @property
    def delta(self) -> float | None:
        if self.model_value is not None and self.baseline_value is not None:
            return self.model_value - self.baseline_value
        return None if self.test is None else self.test.delta


@dataclass(frozen=True)
class Summary:
    """Everything the renderers need; built once, rendered to text, Markdown, CSV, JSON and HTML."""

    options: SummaryOptions
    generated_at: str
    runs: tuple[ModelRun, ...]  # baseline first when there is one
    baseline: str | None  # name of the baseline run
    comparisons: tuple[Comparison, ...]
    items: dict[tuple[str, str], BenchmarkItems]  # (run name, benchmark) -> items
    warnings: tuple[str, ...] = field(default_factory=tuple)
    models: dict[str, ModelInfo] = field(default_factory=dict)  # run name -> what it evaluated
    costs: dict[str, RunCost] = field(default_factory=dict)  # run name -> time and GPU-hours of its jobs
    campaign: Campaign | None = None
    expected_benchmarks: tuple[str, ...] = ()  # requested ones, listed even where no run has a folder
    failures: dict[tuple[str, str], str] = field(default_factory=dict)  # (run, benchmark) -> jobs that failed it
    published: tuple[PublishedComparison, ...] = ()  # runs against their published baselines

    @property
    def benchmarks(self) -> list[str]:
        return sorted({b for run in self.runs for b in run.benchmarks} | set(self.expected_benchmarks))

    def missing_reason(self, run_name: str, bench: BenchmarkRun | None, benchmark: str) -> str:
        """What the files say (or the run's own problem), then the jobs that served it and failed."""
        why = bench.problem if bench is not None else self.run(run_name).problem or "no folder for this benchmark"
        failed = self.failures.get((run_name, benchmark))
        return f"{why}; {failed}" if failed else why

    def run(self, name: str) -> ModelRun:
        return next(r for r in self.runs if r.name == name)

    def subsets(self, benchmark: str) -> list[str]:
        """'all' first, then every other subset any run reports, sorted."""
        found = {s for r in self.runs if (b := r.benchmarks.get(benchmark)) and b.metrics for s in b.metrics}
        return [ALL, *sorted(found - {ALL}, key=_natural)]

    def missing(self) -> list[tuple[str, BenchmarkRun | None, str]]:
        """(run name, benchmark run or None, benchmark name) for every cell without metrics."""
        gaps = []
        for run in self.runs:
            for name in self.benchmarks:
                bench = run.benchmarks.get(name)
                if bench is None or not bench.ok:
                    gaps.append((run.name, bench, name))
        return gaps

    def comparison(self, model: str, benchmark: str, subset: str) -> Comparison | None:
        for comp in self.comparisons:
            if (comp.model, comp.benchmark, comp.subset) == (model, benchmark, subset):
                return comp
        return None


def _natural(text: str) -> list[tuple[int, int | str]]:
    """Sort key putting 'subject_2' before 'subject_10'."""
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part]


def headline_metric(block: dict[str, float], declared: str | None = None) -> str:
    """The metric metrics.json names as the benchmark's headline (`declared`, e.g. mt_bench_score) when the block
    has it; else pass@1 (mean over seeds) when the run has seeds, else accuracy."""
    if declared and declared in block:
        return declared
    return "pass@1" if "pass@1" in block else "accuracy"


def headline(bench: BenchmarkRun | None, subset: str) -> tuple[str, float, float | None] | None:
    """(metric name, value, std err or None) of a benchmark subset, or None when not reported."""
    if bench is None or bench.metrics is None or subset not in bench.metrics:
        return None
    block = bench.metrics[subset]
    metric = headline_metric(block, bench.headline)
    if metric not in block:
        return None
    return metric, block[metric], block.get(f"{metric}_std_err")


def _unique_names(runs: list[ModelRun]) -> list[ModelRun]:
    seen: dict[str, int] = {}
    unique = []
    for run in runs:
        count = seen.get(run.name, 0) + 1
        seen[run.name] = count
        name = run.name if count == 1 else f"{run.name} ({count})"
        unique.append(replace(run, name=name))
    return unique


def _collect_items(bench: BenchmarkRun, options: SummaryOptions) -> tuple[BenchmarkItems, list[str]]:
    outcomes: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    by_id: dict[str, list[GradedItem]] = defaultdict(list)
    warnings: list[str] = []
    total = ungraded = 0
    for path in bench.output_files:
        items, file_warnings = read_graded_items(path)
        warnings.extend(file_warnings)
        for item in items:
            total += 1
            by_id[item.id].append(item)
            if item.correct is None:
                ungraded += 1
                continue
            outcomes[ALL][item.id].append(item.correct)
            if item.subset is not None:
                outcomes[item.subset][item.id].append(item.correct)
    browser: list[GradedItem] = []
    for group in by_id.values():  # whole items (all their seeds), in file order, until the cap
        if len(browser) + len(group) > options.max_items:
            break
        browser.extend(group)
    if ungraded:
        warnings.append(f"{bench.directory}: {ungraded} of {total} output line(s) are not graded (no is_correct)")
    plain = {subset: dict(ids) for subset, ids in outcomes.items()}
    answers = {
        item_id: _answer(group, options.matrix_text_chars)
        for item_id, group in itertools.islice(by_id.items(), options.matrix_max_items)
    }
    return BenchmarkItems(plain, browser, total, ungraded, answers, len(by_id)), warnings


def _answer(group: list[GradedItem], text_chars: int) -> ItemAnswer:
    """The matrix cell of one item from all its samples (one per seed)."""
    first = group[0]
    graded = [g for g in group if g.correct is not None]
    correct = sum(1 for g in graded if g.correct)
    if len(group) == 1:
        verdict = verdict_of(first)
    elif not graded:
        verdict = "ungraded"
    elif correct * 2 > len(graded):
        verdict = "correct"
    else:
        verdict = "no-answer" if all(g.predicted is None for g in graded) else "wrong"
    problem = " ".join(first.problem.split())
    problem = problem if len(problem) <= text_chars else problem[: text_chars - 1] + "…"
    return ItemAnswer(first.subset, verdict, first.predicted, correct, len(graded), first.expected, problem)


def _compare(
    model: ModelRun,
    baseline: ModelRun,
    items: dict[tuple[str, str], BenchmarkItems],
    benchmarks: list[str],
    subsets_of: dict[str, list[str]],
    options: SummaryOptions,
) -> list[Comparison]:
    comparisons = []
    for name in benchmarks:
        mine, theirs = model.benchmarks.get(name), baseline.benchmarks.get(name)
        if mine is None or theirs is None or not mine.ok or not theirs.ok:
            continue
        for subset in subsets_of[name]:
            m, b = headline(mine, subset), headline(theirs, subset)
            if m is None and b is None:
                continue
            metric = (m or b)[0]  # type: ignore[index]
            mine_items, their_items = items.get((model.name, name)), items.get((baseline.name, name))
            test = None
            note = ""
            if mine_items is None or their_items is None:
                note = "no graded output files to pair"
            else:
                test = paired_test(
                    their_items.outcomes.get(subset, {}),
                    mine_items.outcomes.get(subset, {}),
                    resamples=options.resamples,
                    seed=options.seed,
                )
                if test is None:
                    note = "no item ids shared with the baseline"
            comparisons.append(
                Comparison(
                    model.name,
                    name,
                    subset,
                    metric,
                    None if m is None else m[1],
                    None if b is None else b[1],
                    test,
                    note,
                )
            )
    return comparisons


def _check(options: SummaryOptions) -> None:
    if options.max_items < 0 or options.resamples < 1 or options.matrix_max_items < 0:
        raise ConfigError(
            f"max_items and matrix_max_items must be >= 0 and resamples >= 1, got {options.max_items}, "
            f"{options.matrix_max_items}, {options.resamples}"
        )
    if options.cost_per_gpu_hour is not None and options.cost_per_gpu_hour < 0:
        raise ConfigError(f"cost_per_gpu_hour must be >= 0, got {options.cost_per_gpu_hour}")


def _assemble(
    runs: list[ModelRun],
    base: ModelRun | None,
    models: dict[str, ModelInfo],
    options: SummaryOptions,
    campaign: Campaign | None = None,
    expected: tuple[str, ...] = (),
) -> Summary:
    """Read the runs' graded items and job records, and pair every run with the baseline."""
    warnings: list[str] = []
    items: dict[tuple[str, str], BenchmarkItems] = {}
    costs: dict[str, RunCost] = {}
    for run in runs:
        for name, bench in run.benchmarks.items():
            if bench.output_files:
                items[(run.name, name)], found = _collect_items(bench, options)
                warnings.extend(found)
    partial = Summary(options, "", tuple(runs), None, (), items, expected_benchmarks=expected)
    benchmarks = partial.benchmarks
    failures: dict[tuple[str, str], str] = {}
    for run in runs:
        if not run.directory.is_dir():
            continue
        records = RunLayout(run.directory).job_records()
        rate = options.cost_per_gpu_hour
        if rate is None:
            rate = campaign.cost_per_gpu_hour if campaign is not None else models[run.name].cost_per_gpu_hour
        costs[run.name] = run_cost(run.directory, rate, records)
        for name in benchmarks:
            result = run.benchmarks.get(name)
            if result is None or not result.ok:
                failed = job_failures(run.directory, records, name)
                if failed:
                    failures[(run.name, name)] = failed
    subsets_of = {b: partial.subsets(b) for b in benchmarks}
    comparisons: list[Comparison] = []
    if base is not None:
        for run in runs:
            if run is not base:
                comparisons.extend(_compare(run, base, items, benchmarks, subsets_of, options))
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return Summary(
        options,
        now,
        tuple(runs),
        None if base is None else base.name,
        tuple(comparisons),
        items,
        tuple(warnings),
        models,
        costs,
        campaign,
        expected,
        failures,
    )


def build_summary(
    directories: list[str | Path], baseline: str | Path | None = None, options: SummaryOptions | None = None
) -> Summary:
    """Load the runs (and the baseline), read their graded items, and pair every model with the baseline.

    A single directory holding campaign.json is summarized as a campaign (`build_campaign_summary`)."""
    options = options or SummaryOptions()
    if not directories:
        raise ConfigError("no output directory given: pass at least one OUT_DIR")
    _check(options)
    campaigns = [Path(d) for d in directories if is_campaign(Path(d))]
    if campaigns:
        if len(directories) > 1 or baseline is not None:
            raise ConfigError(
                f"{campaigns[0]} is a campaign directory (it has campaign.json): pass it alone; its baseline is the "
                "model marked baseline: true"
            )
        return build_campaign_summary(campaigns[0], options)
    loaded = [load_run(d) for d in directories]
    base_run = load_run(baseline) if baseline is not None else None
    runs = _unique_names(([base_run] if base_run else []) + loaded)
    models = {run.name: read_run_info(run.directory, run.name) for run in runs}
    return _assemble(runs, runs[0] if base_run else None, models, options)


def _load_model(campaign: Campaign, model: ModelInfo) -> ModelRun:
    directory = campaign.run_dir(model)
    if not directory.is_dir():
        return ModelRun(model.name, directory, {}, problem=f"no results: {directory} does not exist (nothing ran)")
    try:
        return load_run(directory, name=model.name)
    except DataError as exc:
        return ModelRun(model.name, directory, {}, problem=f"no results: {exc}")


def build_campaign_summary(directory: str | Path, options: SummaryOptions | None = None) -> Summary:
    """Summarize every model of the campaign in `directory` side by side, against its baseline model."""
    options = options or SummaryOptions()
    _check(options)
    campaign = read_campaign(Path(directory))
    ordered = sorted(campaign.models, key=lambda m: not m.baseline)  # baseline first, then campaign order
    runs = [_load_model(campaign, m) for m in ordered]
    base = runs[0] if campaign.baseline is not None else None
    warnings: tuple[str, ...] = ()
    if base is None:
        warnings = ("campaign.json marks no model baseline: true, so no deltas are shown",)
    elif base.problem:
        warnings = (f"the baseline {base.name} has no results, so no deltas are shown",)
    summary = _assemble(runs, base, {m.name: m for m in ordered}, options, campaign, campaign.benchmark_names)
    return replace(summary, warnings=warnings + summary.warnings)


def with_published(
    summary: Summary, chosen: Mapping[str, PublishedModel], shots_of: Mapping[str, int | None]
) -> Summary:
    """The summary with each run named in `chosen` compared with its published scores (`shots_of`: the shots of
    each benchmark's official protocol, None where it declares none)."""
    comparisons = tuple(
        compare_published(run, chosen[run.name], shots_of) for run in summary.runs if run.name in chosen
    )
    return replace(summary, published=comparisons)
