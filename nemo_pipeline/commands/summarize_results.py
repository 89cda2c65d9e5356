"""Summarize evaluation runs: print a table and write summary.json/.md/.csv and report.html.

python pipeline/summarize_results.py OUT_DIR [OUT_DIR2 ...] [--baseline DIR] [--output DIR] [--html PATH]
python pipeline/summarize_results.py CAMPAIGN_DIR      # holds campaign.json: every model, against its baseline
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nemo_pipeline.errors import NemoPipelineError
from nemo_pipeline.layout import write_summary_stamp
from nemo_pipeline.report import SummaryOptions, build_summary, to_text, write_reports


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dirs", nargs="+", type=Path, metavar="OUT_DIR", help="output_dir of an evaluation run")
    parser.add_argument("--baseline", type=Path, help="output_dir to compare against (paired significance tests)")
    parser.add_argument("--output", type=Path, help="folder for the summary files (default: the first OUT_DIR)")
    parser.add_argument("--html", type=Path, help="path of the HTML report (default: <output>/report.html)")
    parser.add_argument("--title", default="Evaluation summary", help="title of the tables and the report")
    parser.add_argument("--max-items", type=int, default=2000, help="items per benchmark and model in the browser")
    parser.add_argument("--resamples", type=int, default=2000, help="paired-bootstrap resamples (runs with seeds)")
    parser.add_argument(
        "--cost-per-gpu-hour", type=float, help="price of a GPU-hour (default: campaign.json's or run.json's)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    options = SummaryOptions(
        title=args.title,
        max_items=args.max_items,
        resamples=args.resamples,
        cost_per_gpu_hour=args.cost_per_gpu_hour,
    )
    try:
        summary = build_summary(list(args.out_dirs), args.baseline, options)
        written = write_reports(summary, args.output or args.out_dirs[0], args.html)
        if len(args.out_dirs) == 1 and args.output is None and args.baseline is None:
            write_summary_stamp(args.out_dirs[0])  # a rerun with no new metrics skips the summarize job
    except NemoPipelineError as exc:
        if args.debug:
            raise
        print("error: " + " | ".join(str(exc).splitlines()), file=sys.stderr)
        return 1
    sys.stdout.write(to_text(summary))
    print(f"\nwrote {written.json}, {written.markdown.name}, {written.csv.name} and {written.html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
