"""Start a model server in the foreground: python pipeline/start_server.py --server_type llamacpp [--model M] [--port P]

Prints the OpenAI-compatible address once healthy; Ctrl-C stops it.
"""

import argparse
import sys
import time
from pathlib import Path

from nemo_pipeline.cli import main_wrapper
from nemo_pipeline.config import ServerConfig
from nemo_pipeline.inference.core import serving
from nemo_pipeline.process import free_port


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server_type", default="llamacpp")
    parser.add_argument("--model", default="")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--gpus", type=int, default=0)
    parser.add_argument("--parallel_requests", type=int, default=4)
    parser.add_argument("--start_timeout_s", type=float, default=300.0)
    parser.add_argument("--log_dir", default="logs")
    args, extra = parser.parse_known_args(argv)
    cfg = ServerConfig(
        server_type=args.server_type,
        model=args.model,
        port=args.port or free_port(),
        gpus=args.gpus,
        parallel_requests=args.parallel_requests,
        start_timeout_s=args.start_timeout_s,
        extra_args=extra,
    )

    with serving(cfg, Path(args.log_dir)) as endpoint:
        print(f"serving at {endpoint.base_url} (Ctrl-C to stop)", flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main_wrapper(main))
