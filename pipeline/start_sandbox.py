"""Start the code-execution sandbox server: python pipeline/start_sandbox.py --port 6000 [--workers N]."""

from __future__ import annotations

import sys

from nemo_pipeline.sandbox import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
