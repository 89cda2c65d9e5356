#!/usr/bin/env python
"""Prepare benchmark data: `python pipeline/prepare_data.py gsm8k [more names]`, or `--list` to see them all."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from nemo_pipeline.commands.prepare_data import main

if __name__ == "__main__":
    sys.exit(main())
