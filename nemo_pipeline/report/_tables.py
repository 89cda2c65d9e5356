"""Display tables of a Summary, rendered as terminal text and Markdown (CSV and JSON: `_export.py`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from nemo_pipeline.report._cost import RunCost, Usage
from nemo_pipeline.report._stats import SIGNIFICANCE_LEVEL
from nemo_pipeline.report._summary import ALL, Comparison, Summary, headline

__all__ = [
    "Table",
    "comparison_table",
    "cost_table",
    "display_columns",
    "extra_metrics_table",
    "fmt_duration",
    "metric_cell",
    "metric_order",
    "metrics_table",
    "models_table",
    "published_sources",
    "published_table",
    "to_markdown",
    "to_text",
]

_FIRST = ["num_entries", "accuracy", "accuracy_std_err", "pass@1", "pass@1_std_err"]
_LAST = ["no_answer", "avg_tokens", "sum_item_seconds"]
# Not columns of the displayed tables: std errors are shown as ± in their metric's cell; sum_item_seconds is a sum
# of per-item times that overlap, not a wall time (the time and cost table has those). CSV and JSON keep them all.
_NOT_DISPLAYED = frozenset({"accuracy_std_err", "pass@1_std_err", "sum_item_seconds"})


@dataclass(frozen=True)
class Table:
    """Headers and rows of display strings; `align[i]` is 'l' or 'r'."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[str, ...]


def _k(name: str) -> int:
    match = re.search(r"@(\d+)$", name)
    return int(match.group(1)) if match else 0


def _split(keys: set[str]) -> tuple[list[str], list[str], list[str]]:
    """(standard metrics before the scores, benchmark-specific scores, standard metrics after them)."""
    first = [k for k in _FIRST if k in keys]
    majority = sorted((k for k in keys if k.startswith("majority@")), key=_k)
    pass_k = sorted(
        (k for k in keys if k.startswith("pass@") and k not in first and not k.endswith("_std_err")), key=_k
    )
    last = [k for k in _LAST if k in keys]
    rest = sorted(keys - set(first) - set(majority) - set(pass_k) - set(last))
    return first + majority + pass_k, rest, last


def metric_order(keys: set[str]) -> list[str]:
    """Canonical column order: entries, accuracy, pass@1 (+ std errs), majority@k, pass@k, scores, no-answer, time."""
    head, rest, last = _split(keys)
    return head + rest + last


def display_columns(keys: list[str]) -> list[str]:
    """The columns of a displayed table, in the given order: std errors go into their metric's cell."""
    return [k for k in keys if k not in _NOT_DISPLAYED]


def metric_cell(block: dict[str, float], key: str) -> str:
    """A metric's display string, `value ± std err` when the block has the std err."""
    cell = fmt(block.get(key), key)
    if cell and f"{key}_std_err" in block:
        cell += f" ± {block[f'{key}_std_err']:.2f}"
    return cell


def _run_keys(summary: Summary, run_name: str) -> set[str]:
    keys: set[str] = set()
    for entry in summary.run(run_name).benchmarks.values():
        for values in (entry.metrics or {}).values():
            keys.update(values)
    return keys


def extra_metrics_table(summary: Summary, run_name: str) -> Table | None:
    """Benchmark-specific metrics (IFEval's accuracies, judge ratings, ...) of the whole benchmark, one per row;
    None when no benchmark has any. Kept out of the main table so that it does not grow a column per benchmark."""
    run = summary.run(run_name)
    rows = []
    for name in summary.benchmarks:
        bench = run.benchmarks.get(name)
        block = (bench.metrics or {}).get(ALL) if bench is not None else None
        if not block:
            continue
        _, rest, _ = _split(set(block))
        rows += [(name, key, fmt(block[key], key)) for key in rest]
    return Table(("benchmark", "metric", "value"), tuple(rows), ("l", "l", "r")) if rows else None


def fmt(value: float | None, key: str = "") -> str:
    """Counts as integers, everything else with two decimals."""
    if value is None:
        return ""
    if key == "num_entries" and float(value).is_integer():
        return str(int(value))
    return f"{value:.2f}"


def fmt_delta(comp: Comparison) -> str:
    delta = comp.delta
    if delta is None:
        return ""
    text = f"{delta:+.2f}"
    if comp.test is not None:
        text += f" (p={comp.test.p_value:.3g})"
        if comp.test.significant:
            text += " *"
    return text


def _subset_label(subset: str) -> str:
    return "" if subset == ALL else subset


def metrics_table(summary: Summary, run_name: str, max_subsets: int | None = None) -> Table:
    """Benchmark x the standard metrics for one run (see `extra_metrics_table` for the others); std errors are
    shown in their metric's cell as ±.

    Subset rows are left out for a benchmark with more than `max_subsets` subsets (None: never).
    """
    run = summary.run(run_name)
    head, _, last = _split(_run_keys(summary, run_name))
    columns = display_columns(head + last)
    rows = []
    for name in summary.benchmarks:
        bench = run.benchmarks.get(name)
        if bench is None or bench.metrics is None:
            rows.append((name, "", "MISSING", "", "") + ("",) * len(columns))
            continue
        for subset in _shown_subsets(summary, name, max_subsets):
            block = bench.metrics.get(subset)
            if block is None:
                continue
            cells = [metric_cell(block, key) for key in columns]
            seeds = str(bench.num_seeds) if bench.num_seeds else "greedy"
            top = headline(bench, subset)
            shown = "" if top is None else f"{top[0]} {fmt(top[1], top[0])}"
            protocol = bench.protocol if subset == ALL else ""
            rows.append((name if subset == ALL else "", _subset_label(subset), seeds, protocol, shown, *cells))
    headers = ("benchmark", "subset", "seeds", "protocol", "headline", *columns)
    return Table(headers, tuple(rows), ("l", "l", "l", "l", "l") + ("r",) * len(columns))


def _shown_subsets(summary: Summary, benchmark: str, max_subsets: int | None) -> list[str]:
    subsets = summary.subsets(benchmark)
    return subsets if max_subsets is None or len(subsets) - 1 <= max_subsets else [ALL]


def comparison_table(summary: Summary, benchmarks: list[str] | None = None, max_subsets: int | None = None) -> Table:
    """Benchmark/subset x runs (headline metric ± std err), with Δ vs the baseline and its p-value.

    Subset rows are left out for a benchmark with more than `max_subsets` subsets (None: never).
    """
    names = [r.name for r in summary.runs]
    headers: list[str] = ["benchmark", "subset", "metric", "protocol"]
    for name in names:
        headers.append(name + (" (baseline)" if name == summary.baseline else ""))
        if summary.baseline is not None and name != summary.baseline:
            headers.append(f"Δ {name}")
    rows = []
    for bench_name in summary.benchmarks if benchmarks is None else benchmarks:
        for subset in _shown_subsets(summary, bench_name, max_subsets):
            cells: list[str] = []
            metric = ""
            protocols: list[str] = []  # each run's protocol for this benchmark, in run order
            for name in names:
                bench = summary.run(name).benchmarks.get(bench_name)
                if bench is not None and bench.ok and bench.protocol not in protocols:
                    protocols.append(bench.protocol)
                value = headline(bench, subset)
                if value is None:
                    missing = bench is None or not bench.ok
                    cells.append("MISSING" if missing and subset == ALL else "")
                else:
                    metric = metric or value[0]
                    cells.append(fmt(value[1]) + ("" if value[2] is None else f" ± {value[2]:.2f}"))
                if summary.baseline is not None and name != summary.baseline:
                    comp = summary.comparison(name, bench_name, subset)
                    cells.append("" if comp is None else fmt_delta(comp))
            if all(c in ("", "MISSING") for c in cells) and subset != ALL:
                continue
            protocol = " / ".join(protocols) if subset == ALL else ""
            rows.append((bench_name if subset == ALL else "", _subset_label(subset), metric, protocol, *cells))
    return Table(tuple(headers), tuple(rows), ("l", "l", "l", "l") + ("r",) * (len(headers) - 4))


def fmt_duration(seconds: float | None) -> str:
    """1h 02m, 3m 05s, 42s."""
    if seconds is None:
        return ""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _usage_cells(cost: RunCost, usage: Usage) -> tuple[str, str, str, str]:
    return (str(usage.jobs), fmt_duration(usage.wall_s), f"{usage.gpu_hours:.3f}", _money(cost.cost(usage)))


def cost_table(summary: Summary) -> Table | None:
    """Model x benchmark: jobs, job wall time, GPU-hours and cost (with a rate), then the model's total with its
    elapsed time. None when no run has job records."""
    if not any(cost.num_jobs for cost in summary.costs.values()):
        return None
    rows = []
    for run in summary.runs:
        cost = summary.costs.get(run.name)
        if cost is None or not cost.num_jobs:
            rows.append((run.name, "", "0", "", "", "", "no job records"))
            continue
        first = True
        for name in summary.benchmarks:
            usage = cost.by_benchmark.get(name)
            if usage is not None:
                rows.append((run.name if first else "", name, *_usage_cells(cost, usage), ""))
                first = False
        if cost.overhead.jobs:
            rows.append((run.name if first else "", "(no benchmark)", *_usage_cells(cost, cost.overhead), ""))
        elapsed = "" if cost.elapsed_s is None else f"elapsed {fmt_duration(cost.elapsed_s)}"
        if cost.not_ok:
            elapsed += ("; " if elapsed else "") + f"{len(cost.not_ok)} job(s) not completed"
        rows.append(("", "total", *_usage_cells(cost, cost.total), elapsed))
        if cost.plan is not None:
            how = "a guess" if cost.plan.guess else "from measured rates"
            rows.append(("", "planned: estimate", *_usage_cells(cost, cost.plan.estimated), how))
            ended = f"{cost.plan.actual.jobs} of {cost.plan.estimated.jobs} planned jobs ended"
            rows.append(("", "planned: actual", *_usage_cells(cost, cost.plan.actual), ended))
    rates = sorted({c.cost_per_gpu_hour for c in summary.costs.values() if c.cost_per_gpu_hour is not None})
    cost_header = "cost" if not rates else "cost @ " + "/".join(f"{r:g}" for r in rates) + " per GPU-h"
    headers = ("model", "benchmark", "jobs", "wall time", "GPU-hours", cost_header, "note")
    return Table(headers, tuple(rows), ("l", "l", "r", "r", "r", "r", "l"))


def models_table(summary: Summary) -> Table:
    """Which model each run is: name, model path, server type, overrides, baseline."""
    rows = []
    for run in summary.runs:
        info = summary.models.get(run.name)
        mark = "baseline" if run.name == summary.baseline else ""
        if info is None:
            rows.append((run.name, "", "", "", mark))
        else:
            rows.append((run.name, info.model, info.server_type, " ".join(info.overrides), mark))
    return Table(("name", "model", "server", "overrides", ""), tuple(rows), ("l",) * 5)


def published_table(summary: Summary) -> Table | None:
    """Each run beside its published scores: the published value and setting, the run's value and the delta where
    shots and metric match; where they do not, both settings and no delta. None when no run has published scores."""
    if not summary.published:
        return None
    rows = []
    for comp in summary.published:
        for row in comp.rows:
            score = row.score
            mine = row.detail
            if row.value is not None:
                mine = fmt(row.value) + ("" if row.std_err is None else f" ± {row.std_err:.2f}")
            delta = "" if row.delta is None else f"{row.delta:+.2f}"
            name = f"{comp.run} / {comp.published}"
            rows.append((name, score.benchmark, f"{score.value:.1f}", score.setting, mine, delta, row.status))
    headers = ("model / published", "benchmark", "published", "published setting", "this run", "Δ", "status")
    return Table(headers, tuple(rows), ("l", "l", "r", "l", "l", "r", "l"))


def published_sources(summary: Summary) -> list[str]:
    """The verdict of each run against its published scores, then where the published numbers come from."""
    lines = [comp.verdict() for comp in summary.published]
    seen: list[tuple[str, str, str]] = []
    for comp in summary.published:
        for row in comp.rows:
            key = (comp.published, row.score.source, row.score.date)
            if key not in seen:
                seen.append(key)
    lines += [f"published {name}: {source} ({date})" for name, source, date in seen]
    return lines


TERMINAL_MAX_SUBSETS = 12


def _main_tables(summary: Summary) -> list[tuple[str, Table]]:
    if len(summary.runs) == 1:
        return [(summary.runs[0].name, metrics_table(summary, summary.runs[0].name, TERMINAL_MAX_SUBSETS))]
    return [("comparison", comparison_table(summary, max_subsets=TERMINAL_MAX_SUBSETS))]


def _render_text(table: Table) -> str:
    widths = [len(h) for h in table.headers]
    for row in table.rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]

    def line(cells: tuple[str, ...]) -> str:
        parts = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, table.align, strict=False)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(table.headers), rule, *(line(r) for r in table.rows)])


def _footer(summary: Summary, terminal: bool = False) -> list[str]:
    lines = []
    if summary.baseline is not None:
        lines.append(
            f"Δ = model - baseline in percentage points; * = p < {SIGNIFICANCE_LEVEL} (paired test on items matched by "
            "id: McNemar exact for single-sample runs, paired bootstrap with seeds). Subset p-values are not "
            "corrected for multiple comparisons."
        )
    if terminal:
        many = [b for b in summary.benchmarks if len(summary.subsets(b)) - 1 > TERMINAL_MAX_SUBSETS]
        for name in many:
            lines.append(f"{name}: {len(summary.subsets(name)) - 1} subsets, listed in summary.md and report.html")
    for run in summary.runs:
        if run.problem:
            lines.append(f"MISSING every benchmark ({run.name}): {run.problem}")
    for run_name, bench, name in summary.missing():
        if not summary.run(run_name).problem or (run_name, name) in summary.failures:
            lines.append(f"MISSING {name} ({run_name}): {summary.missing_reason(run_name, bench, name)}")
    if summary.costs:
        lines.append(
            "Wall time: job wall time summed over the jobs of a benchmark (jobs can overlap; 'elapsed' is first start "
            "to last end); a job that served several benchmarks is split by items. GPU-hours = GPUs x wall time."
        )
    for run_name, cost in summary.costs.items():
        if cost.not_ok:
            lines.append(f"{run_name}: jobs not completed (their time is counted): {', '.join(cost.not_ok)}")
        lines += [f"{run_name}: {note}" for note in cost.notes]
    lines += list(summary.warnings)
    return lines


def to_text(summary: Summary) -> str:
    """The terminal table: metrics of one run, or runs side by side; then the missing benchmarks."""
    parts = []
    for title, table in _main_tables(summary):
        parts.append(f"{summary.options.title} — {title}" if len(summary.runs) == 1 else summary.options.title)
        parts.append(_render_text(table))
    if len(summary.runs) == 1:
        extra = extra_metrics_table(summary, summary.runs[0].name)
        if extra is not None:
            parts += ["", _render_text(extra)]
    else:
        parts += ["", _render_text(models_table(summary))]
    costs = cost_table(summary)
    if costs is not None:
        parts += ["", _render_text(costs)]
    published = published_table(summary)
    if published is not None:
        parts += ["", _render_text(published), *published_sources(summary), ""]
    parts.extend(_footer(summary, terminal=True))
    return "\n".join(parts) + "\n"


def _md_cell(text: str) -> str:
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", text)


def _render_md(table: Table) -> str:
    head = "| " + " | ".join(_md_cell(h) for h in table.headers) + " |"
    rule = "|" + "|".join(":---" if a == "l" else "---:" for a in table.align) + "|"
    body = ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join([head, rule, *body])


def to_markdown(summary: Summary) -> str:
    """summary.md: the comparison (several runs), each run's full metrics table, the missing benchmarks."""
    out = [f"# {_md_cell(summary.options.title)}", "", f"Generated {summary.generated_at}.", ""]
    out.append("Runs: " + ", ".join(f"`{r.name}` ({r.directory})" for r in summary.runs))
    out.append("")
    out += ["## Models", "", _render_md(models_table(summary)), ""]
    if len(summary.runs) > 1:
        out += ["## Comparison", "", _render_md(comparison_table(summary)), ""]
    costs = cost_table(summary)
    if costs is not None:
        out += ["## Time and cost", "", _render_md(costs), ""]
    published = published_table(summary)
    if published is not None:
        out += ["## Against published scores", "", _render_md(published), ""]
        out += [f"- {_md_cell(line)}" for line in published_sources(summary)] + [""]
    for run in summary.runs:
        out += [f"## Metrics of `{run.name}`", "", _render_md(metrics_table(summary, run.name)), ""]
        extra = extra_metrics_table(summary, run.name)
        if extra is not None:
            out += [f"Benchmark-specific metrics of `{run.name}`:", "", _render_md(extra), ""]
    footer = _footer(summary)
    if footer:
        out += ["## Notes", ""] + [f"- {_md_cell(line)}" for line in footer] + [""]
    return "\n".join(out)
