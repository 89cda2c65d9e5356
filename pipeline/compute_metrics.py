#!/usr/bin/env python
"""Compute-metrics stage: python pipeline/compute_metrics.py ++benchmark_dir=OUT/eval-results/gsm8k"""

import sys

from nemo_pipeline.cli import main_wrapper
from nemo_pipeline.commands.compute_metrics import main

if __name__ == "__main__":
    sys.exit(main_wrapper(main))
