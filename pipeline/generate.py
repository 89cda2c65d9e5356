#!/usr/bin/env python
"""Generate stage: python pipeline/generate.py ++input_file=IN ++output_file=OUT [++key=value ...]"""

import sys

from nemo_pipeline.cli import main_wrapper, split_overrides
from nemo_pipeline.config import GenerateConfig, compose_config
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.inference import run_generate


def main(argv: list[str]) -> int:
    overrides, rest = split_overrides(argv)
    if rest:
        raise ConfigError(f"unexpected argument(s) {rest}; pass settings as ++key=value")
    cfg = compose_config(GenerateConfig, "generate", overrides)
    result = run_generate(cfg)
    print(
        f"generate: {result.output_file}: {result.generated_now} generated, {result.skipped} already done, "
        f"{result.total} in all ({result.seconds:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main_wrapper(main))
