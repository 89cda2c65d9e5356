"""Evaluate a model on benchmarks, locally or on Slurm (`pipeline/eval.py`):

python -m nemo_pipeline.commands.eval --cluster local --benchmarks gsm8k:0 --output_dir out ++max_samples=50
"""

import sys

from nemo_pipeline.cli import main_wrapper
from nemo_pipeline.pipeline_eval import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main_wrapper(main))
