#!/usr/bin/env python3
"""Fetch a model from hf://, s3:// or gs:// into the model cache, once.

python pipeline/fetch_model.py --source hf://ORG/NAME --dest /cache/hf/ORG/NAME
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from nemo_pipeline.cli import main_wrapper
from nemo_pipeline.commands.fetch_model import main

if __name__ == "__main__":
    sys.exit(main_wrapper(main))
