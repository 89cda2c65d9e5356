"""Summarize evaluation runs: print a table and write summary.json/.md/.csv and report.html.

python pipeline/summarize_results.py OUT_DIR [OUT_DIR2 ...] [--baseline DIR] [--output DIR] [--html PATH]
python pipeline/summarize_results.py CAMPAIGN_DIR      # holds campaign.json: every model, against its baseline
python pipeline/summarize_results.py OUT_DIR --published Llama-3.1-8B [--published-file my_scores.yaml]
python pipeline/summarize_results.py OUT_DIR --mlflow sqlite:////data/mlflow.db --wandb PROJECT   # and log it
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nemo_pipeline.config import ExportConfig
from nemo_pipeline.datasets import BENCHMARKS
from nemo_pipeline.errors import NemoPipelineError
from nemo_pipeline.layout import write_summary_stamp
from nemo_pipeline.report import (
    Summary,
    SummaryOptions,
    build_summary,
    choose_published,
    find_published,
    load_published,
    to_text,
    with_published,
    write_reports,
)
from nemo_pipeline.trackers import check_exports, export_summary, export_targets


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dirs", nargs="+", type=Path, metavar="OUT_DIR", help="output_dir of an evaluation run")
    parser.add_argument("--baseline", type=Path, help="output_dir to compare against (paired significance tests)")
    parser.add_argument("--output", type=Path, help="folder for the summary files (default: the first OUT_DIR)")
    parser.add_argument("--html", type=Path, help="path of the HTML report (default: <output>/report.html)")
    parser.add_argument("--title", default="Evaluation summary", help="title of the tables and the report")
    parser.add_argument("--max-items", type=int, default=2000, help="items per benchmark and model in the browser")
    parser.add_argument(
        "--matrix-max-items", type=int, default=20_000, help="items per benchmark and model in the side-by-side matrix"
    )
    parser.add_argument("--resamples", type=int, default=2000, help="paired-bootstrap resamples (runs with seeds)")
    parser.add_argument(
        "--cost-per-gpu-hour", type=float, help="price of a GPU-hour (default: campaign.json's or run.json's)"
    )
    parser.add_argument(
        "--published",
        metavar="NAME",
        help="compare every run with the published scores of NAME (e.g. Llama-3.1-8B; see conf/published/)",
    )
    parser.add_argument(
        "--published-file", type=Path, metavar="PATH", help="your own published scores (YAML, as conf/published/)"
    )
    parser.add_argument("--mlflow", metavar="URI", help="log the run(s) to this MLflow tracking URI")
    parser.add_argument("--mlflow-experiment", default="nemo-pipeline", help="the MLflow experiment to log into")
    parser.add_argument("--wandb", metavar="PROJECT", help="log the run(s) to this W&B project")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser.parse_args(argv)


def _shots_of(benchmarks: list[str]) -> dict[str, int | None]:
    """The shots of each benchmark's official protocol, from the registry (None: not declared or not known)."""
    return {name: BENCHMARKS.get(name).num_fewshot if name in BENCHMARKS else None for name in benchmarks}


def _with_published(summary: Summary, args: argparse.Namespace) -> Summary:
    chosen = choose_published([r.name for r in summary.runs], summary.models, args.published, args.published_file)
    return with_published(summary, chosen, _shots_of(summary.benchmarks)) if chosen else summary


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = SummaryOptions(
        title=args.title,
        max_items=args.max_items,
        matrix_max_items=args.matrix_max_items,
        resamples=args.resamples,
        cost_per_gpu_hour=args.cost_per_gpu_hour,
    )
    export = ExportConfig(mlflow=args.mlflow, mlflow_experiment=args.mlflow_experiment, wandb=args.wandb)
    try:
        if args.published:  # a bad name or file fails before any run is read
            find_published(load_published(args.published_file), args.published)
        if export_targets(export):
            check_exports(export)  # before the summary is built: a missing extra or a bad URI fails at once
        summary = _with_published(build_summary(list(args.out_dirs), args.baseline, options), args)
        written = write_reports(summary, args.output or args.out_dirs[0], args.html)
        if len(args.out_dirs) == 1 and args.output is None and args.baseline is None:
            write_summary_stamp(args.out_dirs[0])  # a rerun with no new metrics skips the summarize job
        if export_targets(export):
            logged = export_summary(summary, args.output or args.out_dirs[0], export)
    except NemoPipelineError as exc:
        if args.debug:
            raise
        print("error: " + " | ".join(str(exc).splitlines()), file=sys.stderr)
        return 1
    sys.stdout.write(to_text(summary))
    print(f"\nwrote {written.json}, {written.markdown.name}, {written.csv.name} and {written.html}")
    if export_targets(export):
        print("logged to " + "; ".join(f"{name} ({', '.join(ids)})" for name, ids in logged.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
