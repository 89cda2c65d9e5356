"""Evaluate stage: python pipeline/evaluate.py ++input_files=[OUT.jsonl] ++grader=math [++key=value ...]"""

import sys

from nemo_pipeline.cli import main_wrapper, split_overrides
from nemo_pipeline.config import EvaluateConfig, compose_config
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.evaluation.stages import run_evaluate


def main(argv: list[str]) -> int:
    overrides, rest = split_overrides(argv)
    if rest:
        raise ConfigError(f"unexpected argument(s) {rest}; pass settings as ++key=value")
    cfg = compose_config(EvaluateConfig, "evaluate", overrides)
    for result in run_evaluate(cfg):
        print(
            f"evaluate: {result.file}: {result.correct}/{result.graded} correct, "
            f"{result.no_answer} without an answer, {result.timeouts} timed out, {result.grader_errors} grader error(s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main_wrapper(main))
