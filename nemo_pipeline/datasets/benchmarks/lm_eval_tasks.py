"""The log-likelihood benchmarks that follow lm-evaluation-harness's own tasks, one row each. They differ only in
their data: the loader (a private module beside this one), the item count, lm-eval's task files and the shots.
Everything else is the same for all of them: graded by `loglik`, lm-eval's pass-through prompt, one token (nothing
is generated), a default server type that returns prompt log-probabilities. A new one is a loader and a row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, register_benchmark
from nemo_pipeline.datasets._source import PyPIWheel, UserFile
from nemo_pipeline.datasets.benchmarks import _arc, _hellaswag, _mmlu_ll, _piqa, _truthfulqa, _winogrande
from nemo_pipeline.datasets.benchmarks._loglik import PROMPT, lm_eval_reference

__all__ = ["TASKS", "LmEvalTask"]


@dataclass(frozen=True)
class LmEvalTask:
    """One log-likelihood benchmark: what sets it apart from the others."""

    name: str
    description: str
    source: PyPIWheel | UserFile
    load: Callable[[Any], list[dict[str, Any]]]  # source -> log-likelihood records
    num_items: int
    task_files: tuple[str, ...]  # lm-eval's task files (under lm_eval/tasks/) that its items follow
    num_fewshot: int | None = None  # the official shots; None: not declared (TruthfulQA's preamble is fixed)

    def benchmark(self) -> Benchmark:
        return Benchmark(
            name=self.name,
            description=self.description,
            source=self.source,
            load=self.load,
            grader="loglik",
            prompt_config=PROMPT,
            num_items=self.num_items,
            tokens_to_generate=1,
            default_server_type="llamacpp-python",
            reference=lm_eval_reference(*self.task_files),
            num_fewshot=self.num_fewshot,
        )


TASKS = (
    LmEvalTask(
        "arc_easy",
        f"ARC-Easy test: science questions, {_arc.NUM_FEWSHOT}-shot log-likelihood",
        _arc.source("arc_easy", "Easy"),
        partial(_arc.build, "arc_easy", "Easy"),
        num_items=2376,
        task_files=("arc/arc_easy.yaml",),
        num_fewshot=_arc.NUM_FEWSHOT,
    ),
    LmEvalTask(
        "arc_challenge",
        f"ARC-Challenge test: science questions, {_arc.NUM_FEWSHOT}-shot log-likelihood",
        _arc.source("arc_challenge", "Challenge"),
        partial(_arc.build, "arc_challenge", "Challenge"),
        num_items=1172,
        task_files=("arc/arc_easy.yaml", "arc/arc_challenge.yaml"),
        num_fewshot=_arc.NUM_FEWSHOT,
    ),
    LmEvalTask(
        "hellaswag",
        f"HellaSwag validation: commonsense sentence endings, {_hellaswag.NUM_FEWSHOT}-shot log-likelihood",
        _hellaswag.SOURCE,
        _hellaswag.build,
        num_items=10042,
        task_files=("hellaswag/hellaswag.yaml",),
        num_fewshot=_hellaswag.NUM_FEWSHOT,
    ),
    LmEvalTask(
        "mmlu-ll",
        "MMLU test scored by log-likelihood of the answer letter (lm-eval's prompt), 0-shot",
        _mmlu_ll.SOURCE,
        _mmlu_ll.load,
        num_items=14042,
        task_files=("mmlu/default/_default_template_yaml", "mmlu/default/_mmlu.yaml"),
        num_fewshot=0,
    ),
    LmEvalTask(
        "piqa",
        "PIQA validation: physical commonsense, 0-shot log-likelihood",
        _piqa.SOURCE,
        _piqa.build,
        num_items=1838,
        task_files=("piqa/piqa.yaml",),
        num_fewshot=_piqa.NUM_FEWSHOT,
    ),
    LmEvalTask(
        "truthfulqa_mc1",
        "TruthfulQA mc1: imitative falsehoods, 0-shot log-likelihood",
        _truthfulqa.source("truthfulqa_mc1"),
        partial(_truthfulqa.build, "truthfulqa_mc1", "mc1_targets"),
        num_items=817,
        task_files=("truthfulqa/truthfulqa_mc1.yaml",),
    ),
    LmEvalTask(
        "truthfulqa_mc2",
        "TruthfulQA mc2: imitative falsehoods, 0-shot log-likelihood",
        _truthfulqa.source("truthfulqa_mc2"),
        partial(_truthfulqa.build, "truthfulqa_mc2", "mc2_targets"),
        num_items=817,
        task_files=("truthfulqa/truthfulqa_mc1.yaml", "truthfulqa/truthfulqa_mc2.yaml"),
    ),
    LmEvalTask(
        "winogrande",
        f"WinoGrande dev: pronoun resolution, {_winogrande.NUM_FEWSHOT}-shot log-likelihood (partial scoring)",
        _winogrande.SOURCE,
        _winogrande.build,
        num_items=1267,
        task_files=("winogrande/default.yaml",),
        num_fewshot=_winogrande.NUM_FEWSHOT,
    ),
)

for task in TASKS:
    register_benchmark(task.benchmark())
