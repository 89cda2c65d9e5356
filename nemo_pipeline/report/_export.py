"""Machine-readable exports of a Summary: summary.csv (tidy rows) and summary.json."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from typing import Any

from nemo_pipeline.report._campaign import ModelInfo
from nemo_pipeline.report._cost import RunCost, Usage
from nemo_pipeline.report._published import PublishedComparison
from nemo_pipeline.report._stats import SIGNIFICANCE_LEVEL
from nemo_pipeline.report._summary import ALL, Summary
from nemo_pipeline.report._tables import metric_order

__all__ = ["summary_dict", "to_csv", "to_json"]


def _csv_rows(summary: Summary) -> tuple[list[str], list[dict[str, Any]]]:
    keys: set[str] = set()
    for run in summary.runs:
        for entry in run.benchmarks.values():
            for values in (entry.metrics or {}).values():
                keys.update(values)
    metric_cols = metric_order(keys)
    comp_cols = ["baseline", "compared_metric", "delta", "p_value", "test", "significant", "num_paired"]
    headers = ["model", "benchmark", "subset", "status", "protocol", "num_seeds", *metric_cols]
    if summary.costs:
        headers += ["wall_s", "gpu_hours", "cost"]
    if summary.baseline is not None:
        headers += comp_cols
    published = {(c.run, r.score.benchmark): (c.published, r) for c in summary.published for r in c.rows}
    if published:
        headers += ["published_model", "published", "published_setting", "published_status", "published_delta"]
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
                    "protocol": bench.protocol,
                    "num_seeds": bench.num_seeds,
                    **block,
                }
                usage = summary.costs[run.name].by_benchmark.get(name) if run.name in summary.costs else None
                if usage is not None and subset == ALL:
                    row.update(
                        wall_s=usage.wall_s,
                        gpu_hours=usage.gpu_hours,
                        cost=summary.costs[run.name].cost(usage),
                    )
                if subset == ALL and (run.name, name) in published:
                    model, found = published[(run.name, name)]
                    row.update(
                        published_model=model,
                        published=found.score.value,
                        published_setting=found.score.setting,
                        published_status=found.status,
                        published_delta=found.delta,
                    )
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


def _model_dict(info: ModelInfo) -> dict[str, Any]:
    return {
        "model": info.model,
        "server_type": info.server_type,
        "overrides": list(info.overrides),
        "baseline": info.baseline,
    }


def _one_usage(cost: RunCost, usage: Usage) -> dict[str, Any]:
    return {"jobs": usage.jobs, "wall_s": usage.wall_s, "gpu_hours": usage.gpu_hours, "cost": cost.cost(usage)}


def _usage_dict(cost: RunCost) -> dict[str, Any]:
    return {
        "cost_per_gpu_hour": cost.cost_per_gpu_hour,
        "num_jobs": cost.num_jobs,
        "elapsed_s": cost.elapsed_s,
        "total": _one_usage(cost, cost.total),
        "overhead": _one_usage(cost, cost.overhead),
        "benchmarks": {name: _one_usage(cost, usage) for name, usage in sorted(cost.by_benchmark.items())},
        "not_completed": list(cost.not_ok),
        "notes": list(cost.notes),
        "plan": None
        if cost.plan is None
        else {
            "estimated": _one_usage(cost, cost.plan.estimated),
            "actual": _one_usage(cost, cost.plan.actual),
            "guess": cost.plan.guess,
            "basis": cost.plan.basis,
        },
    }


def _campaign_dict(summary: Summary) -> dict[str, Any]:
    campaign = summary.campaign
    assert campaign is not None
    return {
        "directory": str(campaign.directory),
        "benchmarks": list(campaign.benchmarks),
        "cluster": campaign.cluster,
        "cost_per_gpu_hour": campaign.cost_per_gpu_hour,
        "models": [m.name for m in campaign.models],
    }


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
        info = summary.models.get(run.name)
        runs.append(
            {
                "name": run.name,
                "directory": str(run.directory),
                "problem": run.problem or None,
                "model": None if info is None else _model_dict(info),
                "usage": None if run.name not in summary.costs else _usage_dict(summary.costs[run.name]),
                "benchmarks": benchmarks,
            }
        )
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
        "campaign": None if summary.campaign is None else _campaign_dict(summary),
        "missing": [
            {"model": m, "benchmark": n, "problem": summary.missing_reason(m, b, n)} for m, b, n in summary.missing()
        ],
        "warnings": list(summary.warnings),
        "published": [_published_dict(comp) for comp in summary.published],
    }


def _published_dict(comp: PublishedComparison) -> dict[str, Any]:
    rows = [
        {
            **dataclasses.asdict(row.score),
            "status": row.status,
            "run": row.detail,
            "run_value": row.value,
            "run_std_err": row.std_err,
            "delta": row.delta,
        }
        for row in comp.rows
    ]
    return {"run": comp.run, "published": comp.published, "verdict": comp.verdict(), "benchmarks": rows}


def to_json(summary: Summary) -> str:
    return json.dumps(summary_dict(summary), indent=2, ensure_ascii=False) + "\n"
