#!/usr/bin/env python
"""Generate stage: python pipeline/generate.py ++input_file=IN ++output_file=OUT [++key=value ...]

A grouped server job runs several output files against one server: ++tasks_file=JOB.tasks.json [++server...]"""

import sys

from nemo_pipeline.cli import main_wrapper
from nemo_pipeline.commands.generate import main

if __name__ == "__main__":
    sys.exit(main_wrapper(main))
