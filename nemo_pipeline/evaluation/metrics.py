"""Metrics over graded items: unbiased pass@k, majority@k, pass@1 over seeds with standard error, no-answer rate,
token and time statistics, per subset; and `compute_metrics`, which builds the metrics.json structure.

All functions are pure; metric objects are frozen and never fill themselves in from the data.

Conventions (docs/GRADING.md):
- Samples of one item are ordered by seed (0, 1, ...). majority@k votes over the first k samples; answers that are
  None (no answer) do not vote; all correct answers count as one answer (they all equal the gold answer), wrong
  answers group by their exact predicted string (stripped). The largest group wins; a tie goes to the group whose
  first vote came from the earliest seed. An item with no vote at all scores 0.
- pass@1 over seeds is the mean of the per-seed accuracies; its standard error is stdev(ddof=1) / sqrt(#seeds)
  (0 with one seed).
- A greedy accuracy carries `accuracy_std_err`, the same estimator over the items' 0/1 outcomes:
  stdev(ddof=1) / sqrt(n) = sqrt(p(1-p)/(n-1)), lm-evaluation-harness's sample stderr for acc (0 with one item).
- Percentages: accuracy (and its std err), no_answer, pass@k, majority@k and pass@1_std_err are percent; `scores`
  means are raw means.
- sum_item_seconds is the sum of `generation_time_s` over every record of the block (all seeds): requests overlap,
  so it is not a wall time (that comes from the job records); older metrics.json files call it gen_seconds.
  avg_tokens is the mean of `num_generated_tokens` over the same records.
- grader_errors (every block): how many of the block's records (all seeds) carry a verdict that is a grader error
  (`is_grader_error`: "grader_error: ...", "grader_crashed", "not_graded", "sandbox_error: ..."), i.e. the grader or
  the sandbox failed, not the answer; they still count as wrong in accuracy, and the evaluate stage fails when there
  are more than `grading.max_error_rate` of them.
- Grader aggregates (a grader's `GraderSpec.aggregate`, or `register_aggregate`): a grader whose benchmark number is
  not a mean of per-item scores (IFEval's instruction-level accuracy is a micro average) declares a function of the
  block's records (all seeds); its keys join every block whose records all carry the hook's score key.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nemo_pipeline.errors import DataError
from nemo_pipeline.records import GradedLine, is_graded
from nemo_pipeline.registry import Registry

__all__ = [
    "AGGREGATES",
    "GRADER_ERROR_REASONS",
    "AggregateHook",
    "MajorityAtK",
    "PassAtK",
    "Sample",
    "compute_metrics",
    "grader_error_count",
    "is_grader_error",
    "majority_at_k",
    "majority_vote",
    "mean_std_err",
    "no_answer_rate",
    "pass1_over_seeds",
    "pass_at_k",
    "register_aggregate",
    "time_stats",
    "token_stats",
]

Sample = tuple[str | None, bool]
"""One graded generation of an item: (predicted answer or None, is_correct)."""


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one item with n samples of which c are correct: 1 - C(n-c, k) / C(n, k)."""
    if k < 1:
        raise ValueError(f"pass_at_k: k must be >= 1, got {k}")
    if n < k:
        raise ValueError(f"pass_at_k: needs at least k={k} samples per item, got n={n}; generate more seeds")
    if not 0 <= c <= n:
        raise ValueError(f"pass_at_k: correct count c={c} must be between 0 and n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority_vote(samples: Sequence[Sample]) -> Sample | None:
    """The winning (answer, is_correct) of samples in seed order, or None when no sample has an answer.

    Correct answers form one group; wrong ones group by stripped string; ties go to the earliest seed's group.
    """
    groups: dict[str, list[int]] = {}  # key -> [count, first position]
    winners: dict[str, Sample] = {}
    for position, (answer, correct) in enumerate(samples):
        if answer is None:
            continue
        key = "\0correct" if correct else answer.strip()
        if key not in groups:
            groups[key] = [0, position]
            winners[key] = (answer, correct)
        groups[key][0] += 1
    if not groups:
        return None
    best = min(groups, key=lambda key: (-groups[key][0], groups[key][1]))
    return winners[best]


def majority_at_k(samples: Sequence[Sample], k: int) -> float:
    """1.0 when the majority answer of the first k samples (seed order) is correct, else 0.0."""
    if k < 1:
        raise ValueError(f"majority_at_k: k must be >= 1, got {k}")
    if len(samples) < k:
        raise ValueError(f"majority_at_k: needs at least k={k} samples per item, got {len(samples)}")
    winner = majority_vote(samples[:k])
    return 1.0 if winner is not None and winner[1] else 0.0


@dataclass(frozen=True)
class PassAtK:
    """pass@k as a metric object: per item from its samples, aggregated as a percent mean."""

    k: int
    higher_is_better: bool = True

    @property
    def name(self) -> str:
        return f"pass@{self.k}"

    def per_item(self, samples: Sequence[Sample]) -> float:
        return pass_at_k(len(samples), sum(1 for _, correct in samples if correct), self.k)

    def aggregate(self, values: Sequence[float]) -> float:
        return 100.0 * statistics.fmean(values) if values else 0.0


@dataclass(frozen=True)
class MajorityAtK:
    """majority@k as a metric object (tie rule in `majority_vote`)."""

    k: int
    higher_is_better: bool = True

    @property
    def name(self) -> str:
        return f"majority@{self.k}"

    def per_item(self, samples: Sequence[Sample]) -> float:
        return majority_at_k(samples, self.k)

    def aggregate(self, values: Sequence[float]) -> float:
        return 100.0 * statistics.fmean(values) if values else 0.0


def mean_std_err(values: Sequence[float]) -> tuple[float, float]:
    """(mean, standard error of the mean) with the sample standard deviation; std error 0 for fewer than 2 values."""
    if not values:
        raise ValueError("mean_std_err: no values")
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, statistics.stdev(values) / math.sqrt(len(values))


def pass1_over_seeds(correct_by_seed: Mapping[int, Sequence[bool]]) -> tuple[float, float]:
    """(pass@1 percent, its standard error) from each seed's is_correct list."""
    accuracies = [100.0 * statistics.fmean(map(float, flags)) for _, flags in sorted(correct_by_seed.items()) if flags]
    return mean_std_err(accuracies)


def no_answer_rate(records: Sequence[GradedLine]) -> float:
    """Percent of records whose predicted_answer is None."""
    if not records:
        return 0.0
    return 100.0 * sum(1 for r in records if r.grading.predicted_answer is None) / len(records)


GRADER_ERROR_REASONS = ("grader_error", "grader_crashed", "not_graded", "sandbox_error")
"""Verdict reasons (alone or before ": detail") that say the grader or the sandbox failed, not the answer."""


def is_grader_error(reason: object) -> bool:
    """True when a verdict's `grading_reason` is a grader error (see GRADER_ERROR_REASONS)."""
    text = str(reason or "")
    return any(text == name or text.startswith(name + ":") for name in GRADER_ERROR_REASONS)


def grader_error_count(records: Sequence[GradedLine]) -> int:
    """How many records carry a grader-error verdict."""
    return sum(1 for record in records if is_grader_error(record.grading.grading_reason))


def _summary(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"mean": 0.0, "median": 0.0, "p90": 0.0, "max": 0.0, "total": 0.0}
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
    return {
        "mean": statistics.fmean(ordered),
        "median": statistics.median(ordered),
        "p90": p90,
        "max": ordered[-1],
        "total": math.fsum(ordered),
    }


def token_stats(records: Sequence[GradedLine]) -> dict[str, float]:
    """mean / median / p90 (nearest rank) / max / total of num_generated_tokens (0 where a line does not say)."""
    return _summary([float(r.num_generated_tokens) for r in records])


def time_stats(records: Sequence[GradedLine]) -> dict[str, float]:
    """mean / median / p90 (nearest rank) / max / total of generation_time_s (0 where a line does not say)."""
    return _summary([r.generation_time_s for r in records])


@dataclass(frozen=True)
class AggregateHook:
    """Block-level metrics computed from graded records, for the blocks whose records all have `score_key` in
    their `scores` (the grader's mark)."""

    score_key: str
    compute: Callable[[Sequence[GradedLine]], Mapping[str, float]]
    headline: str | None = None  # the key that is the benchmark's number as its users know it (e.g. mt_bench_score)
    name: str = ""  # the name it is registered under (a grader's aggregate: the grader's name)


AGGREGATES: Registry[AggregateHook] = Registry("metric aggregate")


def register_aggregate(
    name: str,
    score_key: str,
    compute: Callable[[Sequence[GradedLine]], Mapping[str, float]],
    headline: str | None = None,
) -> AggregateHook:
    """Add `compute(records)`'s keys to every metrics block whose records all carry `score_key`; a name registered
    twice raises. `headline` names the key that metrics.json declares as the benchmark's headline metric."""
    hook = AggregateHook(score_key, compute, headline, name)
    AGGREGATES.add(name, hook)
    return hook


def _aggregates(records: Sequence[GradedLine]) -> dict[str, float]:
    values: dict[str, float] = {}
    for name in AGGREGATES:
        hook = AGGREGATES.get(name)
        if records and all(hook.score_key in record.grading.scores for record in records):
            for key, value in hook.compute(records).items():
                if key in values:
                    raise DataError(f"metric aggregate {name!r}: key {key!r} is also produced by another aggregate")
                values[key] = float(value)
    return values


def _headline(records: Sequence[GradedLine]) -> str | None:
    """The headline key declared by the aggregate that applies to all of `records`, if any."""
    for name in AGGREGATES:
        hook = AGGREGATES.get(name)
        if hook.headline and records and all(hook.score_key in r.grading.scores for r in records):
            return hook.headline
    return None


def _graded_line(record: GradedLine | Mapping[str, Any], n: int, seed: int | None) -> GradedLine:
    if isinstance(record, GradedLine):
        return record
    where = f"record {n} (id {record.get('id')!r}) of seed {seed}"
    if not is_graded(record):
        raise DataError(f"{where} has no 'is_correct': run the evaluate stage first")
    return GradedLine.read(record, where)


def _index(records: Sequence[GradedLine | Mapping[str, Any]], seed: int | None) -> dict[str, GradedLine]:
    by_id: dict[str, GradedLine] = {}
    for n, record in enumerate(records):
        line = _graded_line(record, n, seed)
        key = str(line.line.get("id", n))
        if key in by_id:
            raise DataError(f"seed {seed}: item id {key!r} appears twice; rerun generation for this seed")
        by_id[key] = line
    return by_id


def _block(ids: Sequence[str], runs: Mapping[int | None, Mapping[str, GradedLine]]) -> dict[str, Any]:
    records = [run[i] for run in runs.values() for i in ids]
    block: dict[str, Any] = {"num_entries": len(ids)}
    seeds = sorted(s for s in runs if s is not None)
    if seeds:
        correct = {s: [runs[s][i].grading.is_correct for i in ids] for s in seeds}
        pass1, std_err = pass1_over_seeds(correct)
        n = len(seeds)
        samples = [[(runs[s][i].grading.predicted_answer, runs[s][i].grading.is_correct) for s in seeds] for i in ids]
        majority, pass_n = MajorityAtK(n), PassAtK(n)
        block["accuracy"] = pass1
        block["pass@1"] = pass1
        block["pass@1_std_err"] = std_err
        block[majority.name] = majority.aggregate([majority.per_item(s) for s in samples])
        block[pass_n.name] = pass_n.aggregate([pass_n.per_item(s) for s in samples])
    else:
        accuracy, std_err = mean_std_err([100.0 * r.grading.is_correct for r in records]) if records else (0.0, 0.0)
        block["accuracy"] = accuracy
        block["accuracy_std_err"] = std_err
    block["no_answer"] = no_answer_rate(records)
    block["grader_errors"] = grader_error_count(records)
    block["avg_tokens"] = token_stats(records)["mean"]
    block["sum_item_seconds"] = time_stats(records)["total"]
    score_values: dict[str, list[float]] = {}
    for record in records:
        for key, value in record.grading.scores.items():
            score_values.setdefault(key, []).append(value)
    for key in sorted(score_values):
        if key in block:
            raise DataError(f"score name {key!r} collides with a built-in metric; rename it in the grader")
        block[key] = statistics.fmean(score_values[key])
    for key, value in _aggregates(records).items():
        if key in block:
            raise DataError(f"metric aggregate key {key!r} collides with another metric; rename it in its hook")
        block[key] = value
    return block


def compute_metrics(
    records_by_seed: Mapping[int | None, Sequence[GradedLine | Mapping[str, Any]]], *, benchmark: str = ""
) -> dict[str, Any]:
    """Build metrics.json: {"benchmark", "num_seeds", "metrics": {"all": {...}, "<subset>": {...}}}.

    `records_by_seed` maps a seed to its graded records, or None to the greedy run (output.jsonl). Every seed must
    hold the same item ids; a record given as a mapping is read with `GradedLine.read` (a key of the wrong type is
    a DataError naming the record and the key). `benchmark` defaults to the records' own "benchmark" field when
    they have one.
    """
    if not records_by_seed:
        raise DataError("compute_metrics: no graded records; run the generate and evaluate stages first")
    seeds = sorted(s for s in records_by_seed if s is not None)
    if seeds and None in records_by_seed:
        raise DataError(
            f"compute_metrics: both a greedy run (output.jsonl) and seeds {seeds} (output-rs*.jsonl) were given; "
            "keep one kind per benchmark directory"
        )
    runs = {seed: _index(records, seed) for seed, records in records_by_seed.items()}
    first_seed = seeds[0] if seeds else None
    ids = list(runs[first_seed])
    for seed, run in runs.items():
        if set(run) != set(ids):
            missing = sorted(set(ids) - set(run))[:5]
            extra = sorted(set(run) - set(ids))[:5]
            raise DataError(
                f"compute_metrics: seed {seed} holds different items than seed {first_seed} "
                f"(missing {missing}, extra {extra}); finish or rerun that seed's generation"
            )
    subsets: dict[str, list[str]] = {}
    for i in ids:
        subset = runs[first_seed][i].line.get("subset")
        if subset is not None and str(subset) != "all":
            subsets.setdefault(str(subset), []).append(i)
    metrics = {"all": _block(ids, runs)}
    for subset in sorted(subsets):
        metrics[subset] = _block(subsets[subset], runs)
    if not benchmark:
        names = {str(r.line["benchmark"]) for r in runs[first_seed].values() if r.line.get("benchmark")}
        benchmark = names.pop() if len(names) == 1 else ""
    result: dict[str, Any] = {"benchmark": benchmark, "num_seeds": len(seeds), "metrics": metrics}
    headline = _headline(list(runs[first_seed].values()))
    if headline is not None and headline in metrics["all"]:
        result["headline"] = headline
    return result
