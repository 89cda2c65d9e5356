"""Build what the trackers log from a written summary: one TrackedRun per model, and the campaign as a group."""

from __future__ import annotations

from pathlib import Path

from nemo_pipeline.layout import RunLayout, SummaryFiles
from nemo_pipeline.report import Summary
from nemo_pipeline.trackers._base import TrackedGroup, TrackedRun, metric_key, read_table, run_params

__all__ = ["tracked_runs"]


def tracked_runs(summary: Summary, output_dir: Path) -> tuple[list[TrackedRun], TrackedGroup | None]:
    """Every model of `summary` (written into `output_dir`), and its campaign group when it is one."""
    runs = []
    for run in summary.runs:
        metrics: dict[str, float] = {}
        for bench_name, bench in sorted(run.benchmarks.items()):
            for subset, block in sorted((bench.metrics or {}).items()):
                for key, value in sorted(block.items()):
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        metrics[metric_key(bench_name, subset, key)] = float(value)
        directory = run.directory
        params, record = run_params(RunLayout(directory).run_record)
        runs.append(
            TrackedRun(
                name=run.name,
                directory=directory,
                params=params,
                metrics=metrics,
                table=read_table(SummaryFiles.of(directory).csv),
                files=SummaryFiles.of(directory).existing(),
                config=record,
            )
        )
    group = None
    if summary.campaign is not None:
        summary_files = SummaryFiles.of(output_dir)
        group = TrackedGroup(output_dir.name, output_dir, read_table(summary_files.csv), summary_files.existing())
    return runs, group
