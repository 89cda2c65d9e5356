"""Start the code-execution sandbox server: python -m nemo_pipeline.commands.start_sandbox --port 6000 [--workers N]."""

import sys

from nemo_pipeline.sandbox import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
