"""States of the jobs of a run or a campaign (local, or submitted to a cluster):
python pipeline/status.py OUTPUT_DIR [--wait SECONDS]

Shows each job's state and, for generate jobs, items done of total. On a remote cluster the run directory is
copied back once every job ended. Exit code 0 when every job completed, 1 when one failed or was cancelled, 3 while
jobs are still pending/running.
"""

import argparse
import sys
from pathlib import Path

from nemo_pipeline.cli import main_wrapper
from nemo_pipeline.config import CONF_DIR
from nemo_pipeline.jobs import attach_run, submitted_file
from nemo_pipeline.jobs.local import local_status_report
from nemo_pipeline.jobs.progress_report import progress_lines


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("output_dir")
    parser.add_argument("--wait", type=float, default=0.0, help="wait up to this many seconds for the jobs to end")
    args = parser.parse_args(argv)
    output_dir = Path(args.output_dir).resolve()
    local = local_status_report(output_dir)
    if local is not None and not submitted_file(output_dir).exists():
        text, code = local
        print(text)
        for line in progress_lines(output_dir):
            print(line)
        return code
    handle = attach_run(output_dir, CONF_DIR)
    states = handle.wait(args.wait) if args.wait > 0 else handle.status()
    fetch = getattr(handle, "fetch_results", None)
    if all(state.finished for state in states.values()) and callable(fetch):
        fetch()  # a remote cluster's run directory comes back once every job ended
    print(handle.report(states))
    for line in progress_lines(output_dir):
        print(line)
    if any(not state.finished for state in states.values()):
        return 3
    return 0 if all(state.ok for state in states.values()) else 1


if __name__ == "__main__":
    sys.exit(main_wrapper(main))
