"""Plain renderings of a Summary: terminal text, Markdown, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from nemo_pipeline.report._stats import SIGNIFICANCE_LEVEL
from nemo_pipeline.report._summary import ALL, Comparison, Summary, headline

__all__ = [
    "Table",
    "comparison_table",
    "extra_metrics_table",
    "metric_order",
    "metrics_table",
    "to_csv",
    "to_json",
    "to_markdown",
    "to_text",
]

_FIRST = ["num_entries", "accuracy", "pass@1", "pass@1_std_err"]
_LAST = ["no_answer", "avg_tokens", "gen_seconds"]


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
    """Canonical column order: entries, accuracy, pass@1 (+ std err), majority@k, pass@k, scores, no-answer, cost."""
    head, rest, last = _split(keys)
    return head + rest + last


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
    """Benchmark x the standard metrics for one run (see `extra_metrics_table` for the others); pass@1's std err
    is shown in the same cell as ±.

    Subset rows are left out for a benchmark with more than `max_subsets` subsets (None: never).
    """
    run = summary.run(run_name)
    head, _, last = _split(_run_keys(summary, run_name))
    columns = [k for k in head + last if k != "pass@1_std_err"]
    rows = []
    for name in summary.benchmarks:
        bench = run.benchmarks.get(name)
        if bench is None or bench.metrics is None:
            rows.append((name, "", "MISSING") + ("",) * len(columns))
            continue
        for subset in _shown_subsets(summary, name, max_subsets):
            block = bench.metrics.get(subset)
            if block is None:
                continue
            cells = []
            for key in columns:
                cell = fmt(block.get(key), key)
                if key == "pass@1" and "pass@1_std_err" in block:
                    cell += f" ± {block['pass@1_std_err']:.2f}"
                cells.append(cell)
            seeds = str(bench.num_seeds) if bench.num_seeds else "greedy"
            rows.append((name if subset == ALL else "", _subset_label(subset), seeds, *cells))
    headers = ("benchmark", "subset", "seeds", *columns)
    return Table(headers, tuple(rows), ("l", "l", "l") + ("r",) * len(columns))


def _shown_subsets(summary: Summary, benchmark: str, max_subsets: int | None) -> list[str]:
    subsets = summary.subsets(benchmark)
    return subsets if max_subsets is None or len(subsets) - 1 <= max_subsets else [ALL]


def comparison_table(summary: Summary, benchmarks: list[str] | None = None, max_subsets: int | None = None) -> Table:
    """Benchmark/subset x runs (headline metric ± std err), with Δ vs the baseline and its p-value.

    Subset rows are left out for a benchmark with more than `max_subsets` subsets (None: never).
    """
    names = [r.name for r in summary.runs]
    headers: list[str] = ["benchmark", "subset", "metric"]
    for name in names:
        headers.append(name + (" (baseline)" if name == summary.baseline else ""))
        if summary.baseline is not None and name != summary.baseline:
            headers.append(f"Δ {name}")
    rows = []
    for bench_name in summary.benchmarks if benchmarks is None else benchmarks:
        for subset in _shown_subsets(summary, bench_name, max_subsets):
            cells: list[str] = []
            metric = ""
            for name in names:
                bench = summary.run(name).benchmarks.get(bench_name)
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
            rows.append((bench_name if subset == ALL else "", _subset_label(subset), metric, *cells))
    return Table(tuple(headers), tuple(rows), ("l", "l", "l") + ("r",) * (len(headers) - 3))


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
    for run_name, bench, name in summary.missing():
        why = "no folder for this benchmark" if bench is None else bench.problem
        lines.append(f"MISSING {name} ({run_name}): {why}")
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
    if len(summary.runs) > 1:
        out += ["## Comparison", "", _render_md(comparison_table(summary)), ""]
    for run in summary.runs:
        out += [f"## Metrics of `{run.name}`", "", _render_md(metrics_table(summary, run.name)), ""]
        extra = extra_metrics_table(summary, run.name)
        if extra is not None:
            out += [f"Benchmark-specific metrics of `{run.name}`:", "", _render_md(extra), ""]
    footer = _footer(summary)
    if footer:
        out += ["## Notes", ""] + [f"- {_md_cell(line)}" for line in footer] + [""]
    return "\n".join(out)


def _csv_rows(summary: Summary) -> tuple[list[str], list[dict[str, Any]]]:
    keys: set[str] = set()
    for run in summary.runs:
        for entry in run.benchmarks.values():
            for values in (entry.metrics or {}).values():
                keys.update(values)
    metric_cols = metric_order(keys)
    comp_cols = ["baseline", "compared_metric", "delta", "p_value", "test", "significant", "num_paired"]
    headers = ["model", "benchmark", "subset", "status", "num_seeds", *metric_cols]
    if summary.baseline is not None:
        headers += comp_cols
    rows: list[dict[str, Any]] = []
    for run in summary.runs:
        for name in summary.benchmarks:
            bench = run.benchmarks.get(name)
            if bench is None or bench.metrics is None:
                rows.append({"model": run.name, "benchmark": name, "subset": ALL, "status": "missing"})
                continue
            for subset in summary.subsets(name):
                block = bench.metrics.get(subset)
                if block is None:
                    continue
                row: dict[str, Any] = {
                    "model": run.name,
                    "benchmark": name,
                    "subset": subset,
                    "status": "ok",
                    "num_seeds": bench.num_seeds,
                    **block,
                }
                comp = summary.comparison(run.name, name, subset)
                if comp is not None:
                    row.update(baseline=summary.baseline, compared_metric=comp.metric, delta=comp.delta)
                    if comp.test is not None:
                        row.update(
                            p_value=comp.test.p_value,
                            test=comp.test.test,
                            significant=comp.test.significant,
                            num_paired=comp.test.num_paired,
                        )
                rows.append(row)
    return headers, rows


def to_csv(summary: Summary) -> str:
    """summary.csv: one row per run, benchmark and subset; one column per metric; comparison columns with a baseline."""
    headers, rows = _csv_rows(summary)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=headers, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def summary_dict(summary: Summary) -> dict[str, Any]:
    """summary.json's content."""
    runs = []
    for run in summary.runs:
        benchmarks = {}
        for name, bench in run.benchmarks.items():
            items = summary.items.get((run.name, name))
            benchmarks[name] = {
                "status": "ok" if bench.ok else "missing",
                "problem": bench.problem or None,
                "num_seeds": bench.num_seeds,
                "metrics": bench.metrics,
                "output_files": [p.name for p in bench.output_files],
                "graded_lines": None if items is None else items.total - items.ungraded,
            }
        runs.append({"name": run.name, "directory": str(run.directory), "benchmarks": benchmarks})
    comparisons = []
    for comp in summary.comparisons:
        entry: dict[str, Any] = {
            "model": comp.model,
            "baseline": summary.baseline,
            "benchmark": comp.benchmark,
            "subset": comp.subset,
            "metric": comp.metric,
            "model_value": comp.model_value,
            "baseline_value": comp.baseline_value,
            "delta": comp.delta,
            "note": comp.note or None,
            "paired": None,
        }
        if comp.test is not None:
            t = comp.test
            entry["paired"] = {
                "test": t.test,
                "num_paired": t.num_paired,
                "baseline_score": t.baseline_score,
                "model_score": t.model_score,
                "delta": t.delta,
                "p_value": t.p_value,
                "significant": t.significant,
                "ci95": None if t.ci95 is None else list(t.ci95),
                "only_baseline_correct": t.only_baseline if t.test == "mcnemar-exact" else None,
                "only_model_correct": t.only_model if t.test == "mcnemar-exact" else None,
            }
        comparisons.append(entry)
    return {
        "title": summary.options.title,
        "generated_at": summary.generated_at,
        "baseline": summary.baseline,
        "significance_level": SIGNIFICANCE_LEVEL,
        "runs": runs,
        "comparisons": comparisons,
        "missing": [
            {"model": m, "benchmark": name, "problem": "no folder" if b is None else b.problem}
            for m, b, name in summary.missing()
        ],
        "warnings": list(summary.warnings),
    }


def to_json(summary: Summary) -> str:
    return json.dumps(summary_dict(summary), indent=2, ensure_ascii=False) + "\n"
