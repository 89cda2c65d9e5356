"""Compute-metrics stage: python pipeline/compute_metrics.py ++benchmark_dir=OUT/eval-results/gsm8k"""

import json
import sys

from nemo_pipeline.cli import main_wrapper, split_overrides
from nemo_pipeline.config import MetricsConfig, compose_config
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.evaluation.stages import run_compute_metrics


def main(argv: list[str]) -> int:
    overrides, rest = split_overrides(argv)
    if rest:
        raise ConfigError(f"unexpected argument(s) {rest}; pass settings as ++key=value")
    cfg = compose_config(MetricsConfig, "compute_metrics", overrides)
    metrics = run_compute_metrics(cfg)
    print(json.dumps(metrics["metrics"]["all"], indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main_wrapper(main))
