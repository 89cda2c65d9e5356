#!/usr/bin/env python3
"""Summarize evaluation runs: print a table and write summary.json/.md/.csv and report.html.

python pipeline/summarize_results.py OUT_DIR [OUT_DIR2 ...] [--baseline DIR] [--output DIR] [--html PATH]
python pipeline/summarize_results.py CAMPAIGN_DIR      # holds campaign.json: every model, against its baseline
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from nemo_pipeline.commands.summarize_results import main

if __name__ == "__main__":
    sys.exit(main())
