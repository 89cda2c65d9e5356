#!/usr/bin/env python
"""Start a model server in the foreground: python pipeline/start_server.py --server_type llamacpp [--model M] [--port P]

Prints the OpenAI-compatible address once healthy; Ctrl-C stops it.
"""

import sys

from nemo_pipeline.cli import main_wrapper
from nemo_pipeline.commands.start_server import main

if __name__ == "__main__":
    sys.exit(main_wrapper(main))
