"""Generate stage: python pipeline/generate.py ++input_file=IN ++output_file=OUT [++key=value ...]

A grouped server job runs several output files against one server: ++tasks_file=JOB.tasks.json [++server...]"""

import sys

from nemo_pipeline.cli import main_wrapper, split_overrides
from nemo_pipeline.config import GenerateConfig, compose_config
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.inference.generate import run_generate, run_generate_tasks


def main(argv: list[str]) -> int:
    overrides, rest = split_overrides(argv)
    if rest:
        raise ConfigError(f"unexpected argument(s) {rest}; pass settings as ++key=value")
    cfg = compose_config(GenerateConfig, "generate", overrides)
    results = run_generate_tasks(cfg) if cfg.tasks_file else [run_generate(cfg)]
    for result in results:
        print(
            f"generate: {result.output_file}: {result.generated_now} generated, {result.skipped} already done, "
            f"{result.total} in all ({result.seconds:.1f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main_wrapper(main))
