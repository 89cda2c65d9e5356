"""Items done of total for every output file of a run or a campaign, from the progress files the generate stage
writes (`nemo_pipeline.progress`)."""

from __future__ import annotations

from pathlib import Path

from nemo_pipeline.layout import RunLayout, campaign_runs, progress_files
from nemo_pipeline.progress import read_progress

__all__ = ["progress_lines"]


def progress_lines(output_dir: Path) -> list[str]:
    """One line per output file with progress: `<run>/<benchmark>/<file>: 12/50 items, 0.61 items/s, ~62 s left`."""
    runs = campaign_runs(output_dir) or [RunLayout(output_dir)]
    lines = []
    for run in runs:
        prefix = f"{run.root.name}/" if run.root != output_dir else ""
        for benchmark in run.benchmarks():
            for path in progress_files(run.bench_dir(benchmark)):
                progress = read_progress(path)
                if progress is not None:
                    lines.append(f"{prefix}{benchmark}/{path.name}: {progress.describe()}")
    return lines
