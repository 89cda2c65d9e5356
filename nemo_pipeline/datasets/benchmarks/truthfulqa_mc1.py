"""TruthfulQA mc1 (817 questions): 0-shot log-likelihood as in lm-evaluation-harness (user file: no offline
source)."""

from __future__ import annotations

from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, register_benchmark
from nemo_pipeline.datasets._source import UserFile
from nemo_pipeline.datasets.benchmarks import _truthfulqa
from nemo_pipeline.datasets.benchmarks._loglik import PROMPT, lm_eval_reference

SOURCE = _truthfulqa.source("truthfulqa_mc1")


def load(source: UserFile) -> list[dict[str, Any]]:
    return _truthfulqa.build("truthfulqa_mc1", "mc1_targets", source)


register_benchmark(
    Benchmark(
        name="truthfulqa_mc1",
        description="TruthfulQA mc1: imitative falsehoods, 0-shot log-likelihood",
        source=SOURCE,
        load=load,
        grader="loglik",
        prompt_config=PROMPT,
        num_items=817,
        tokens_to_generate=1,
        default_server_type="llamacpp-python",
        reference=lm_eval_reference("truthfulqa/truthfulqa_mc1.yaml"),
    )
)
