"""Fetch a model from its source URI into the model cache, once (`pipeline/fetch_model.py`):

python -m nemo_pipeline.commands.fetch_model --source hf://ORG/NAME --dest /cache/hf/ORG/NAME

eval.py runs it as a job before the server job of a model named by `hf://`, `s3://` or `gs://`. HF_TOKEN (and
HF_ENDPOINT), the AWS variables (AWS_ENDPOINT_URL for an S3-compatible store) and Google's credentials come from
the job's environment. A complete copy (its `.fetched` marker names the same source) is left as it is.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from nemo_pipeline.cli import main_wrapper
from nemo_pipeline.model_source import fetch, parse_model_source

__all__ = ["main"]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pipeline/fetch_model.py", description="Fetch a model into the cache.")
    parser.add_argument("--source", required=True, help="hf://ORG/NAME[/FILE], s3://BUCKET/KEY or gs://BUCKET/KEY")
    parser.add_argument("--dest", required=True, type=Path, help="where the copy goes")
    args = parser.parse_args(argv)
    for library in ("botocore", "boto3", "s3transfer", "urllib3", "huggingface_hub", "filelock", "google"):
        logging.getLogger(library).setLevel(logging.WARNING)  # their INFO lines (credentials found, ...) are noise
    source = parse_model_source(args.source, "--source")
    fetched = fetch(source, args.dest)
    print(f"{'fetched' if fetched else 'already in the cache:'} {source.uri} -> {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main_wrapper(main))
