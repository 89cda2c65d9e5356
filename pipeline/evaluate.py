#!/usr/bin/env python
"""Evaluate stage: python pipeline/evaluate.py ++input_files=[OUT.jsonl] ++grader=math [++key=value ...]"""

import sys

from nemo_pipeline.cli import main_wrapper
from nemo_pipeline.commands.evaluate import main

if __name__ == "__main__":
    sys.exit(main_wrapper(main))
