"""ARC-Challenge test split (1172 questions): grade-school science, 25-shot log-likelihood, acc and acc_norm as in
lm-evaluation-harness (user file: no offline source)."""

from __future__ import annotations

from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, register_benchmark
from nemo_pipeline.datasets._source import UserFile
from nemo_pipeline.datasets.benchmarks import _arc
from nemo_pipeline.datasets.benchmarks._loglik import PROMPT, lm_eval_reference

SOURCE = _arc.source("arc_challenge", "Challenge")


def build(source: UserFile, num_fewshot: int = _arc.NUM_FEWSHOT) -> list[dict[str, Any]]:
    return _arc.build("arc_challenge", "Challenge", source, num_fewshot)


def load(source: UserFile) -> list[dict[str, Any]]:
    return build(source)


register_benchmark(
    Benchmark(
        name="arc_challenge",
        description=f"ARC-Challenge test: science questions, {_arc.NUM_FEWSHOT}-shot log-likelihood",
        source=SOURCE,
        load=load,
        grader="loglik",
        prompt_config=PROMPT,
        num_items=1172,
        tokens_to_generate=1,
        default_server_type="llamacpp-python",
        reference=lm_eval_reference("arc/arc_easy.yaml", "arc/arc_challenge.yaml"),
        num_fewshot=_arc.NUM_FEWSHOT,
    )
)
