#!/usr/bin/env python
"""States of the jobs of a run (Slurm, or local): python pipeline/status.py OUTPUT_DIR [--wait SECONDS]

On a remote cluster the run directory is copied back once every job ended.
Exit code 0 when every job completed, 1 when one failed or was cancelled, 3 while jobs are still pending/running.
"""

import argparse
import sys
from pathlib import Path

from nemo_pipeline.cli import main_wrapper
from nemo_pipeline.jobs.local import local_status_report
from nemo_pipeline.jobs.slurm_eval import SUBMITTED_FILE, load_run


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("output_dir")
    parser.add_argument("--wait", type=float, default=0.0, help="wait up to this many seconds for the jobs to end")
    args = parser.parse_args(argv)
    output_dir = Path(args.output_dir).resolve()
    local = local_status_report(output_dir)
    if local is not None and not (output_dir / SUBMITTED_FILE).exists():
        text, code = local
        print(text)
        return code
    handle = load_run(output_dir)
    states = handle.wait(args.wait) if args.wait > 0 else handle.status()
    if all(state.finished for state in states.values()):
        handle.fetch_results()  # a remote cluster's run directory comes back once every job ended
    print(handle.report(states))
    if any(not state.finished for state in states.values()):
        return 3
    return 0 if all(state.ok for state in states.values()) else 1


if __name__ == "__main__":
    sys.exit(main_wrapper(main))
