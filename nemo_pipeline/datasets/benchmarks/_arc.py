"""ARC (AI2 Reasoning Challenge) loaders shared by arc_easy and arc_challenge: the official JSON Lines files of
ARC-V1-Feb2018 (or the Hugging Face allenai/ai2_arc rows), 25-shot from the training split as lm-eval does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nemo_pipeline.datasets._formats import require_fields
from nemo_pipeline.datasets._source import UserFile
from nemo_pipeline.datasets.benchmarks._loglik import McDoc, fewshot_file, mc_records, read_split
from nemo_pipeline.errors import DataError

__all__ = ["NUM_FEWSHOT", "build", "source"]

NUM_FEWSHOT = 25
URL = "https://ai2-public-datasets.s3.amazonaws.com/arc/ARC-V1-Feb2018.zip"


def source(benchmark: str, part: str) -> UserFile:
    return UserFile(
        benchmark=benchmark,
        filenames=(f"ARC-{part}-Test.jsonl", "test.parquet"),
        official_url=f"{URL} (ARC-V1-Feb2018-2/ARC-{part}/ARC-{part}-Test.jsonl, and ARC-{part}-Train.jsonl beside "
        "it for the few-shot examples)",
        license="CC BY-SA 4.0 (ARC, Allen Institute for AI)",
    )


def _docs(path: Path) -> list[McDoc]:
    docs = []
    for index, row in enumerate(read_split(path)):
        require_fields(path, index, row, ("question", "answerKey"))
        question = row["question"]
        if isinstance(question, dict):  # the official files nest the choices in the question
            stem, labels, texts = (
                question["stem"],
                [c["label"] for c in question["choices"]],
                [c["text"] for c in question["choices"]],
            )
        else:  # Hugging Face rows: choices {"text": [...], "label": [...]}
            require_fields(path, index, row, ("choices",))
            stem, labels, texts = question, list(row["choices"]["label"]), list(row["choices"]["text"])
        if row["answerKey"] not in labels:
            raise DataError(f"{path}: record {index + 1} answerKey {row['answerKey']!r} is not among {labels}")
        docs.append(McDoc(f"Question: {stem}\nAnswer:", tuple(map(str, texts)), labels.index(row["answerKey"])))
    return docs


def build(benchmark: str, part: str, src: UserFile, num_fewshot: int = NUM_FEWSHOT) -> list[dict[str, Any]]:
    docs = _docs(src.path())
    train = fewshot_file(src, (f"ARC-{part}-Train.jsonl", "train.parquet"), num_fewshot)
    return mc_records(benchmark, docs, _docs(train) if train is not None else [], num_fewshot)
