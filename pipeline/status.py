#!/usr/bin/env python
"""States of the jobs of a run or a campaign (local, or submitted to a cluster):
python pipeline/status.py OUTPUT_DIR [--wait SECONDS]

Shows each job's state and, for generate jobs, items done of total. On a remote cluster the run directory is
copied back once every job ended. Exit code 0 when every job completed, 1 when one failed or was cancelled, 3 while
jobs are still pending/running.
"""

import sys

from nemo_pipeline.cli import main_wrapper
from nemo_pipeline.commands.status import main

if __name__ == "__main__":
    sys.exit(main_wrapper(main))
