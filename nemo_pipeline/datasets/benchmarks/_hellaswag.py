"""HellaSwag validation split (10,042 items): pick the ending of a situation; 10-shot, acc and acc_norm as in
lm-evaluation-harness (user file: no offline source)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from nemo_pipeline.datasets._formats import require_fields
from nemo_pipeline.datasets._source import UserFile
from nemo_pipeline.datasets.benchmarks._loglik import (
    McDoc,
    fewshot_file,
    mc_records,
    read_split,
)

NUM_FEWSHOT = 10
SOURCE = UserFile(
    benchmark="hellaswag",
    filenames=("hellaswag_val.jsonl", "validation.parquet"),
    official_url="https://github.com/rowanz/hellaswag/raw/master/data/hellaswag_val.jsonl "
    "(and hellaswag_train.jsonl beside it for the few-shot examples)",
    license="MIT (HellaSwag, Zellers et al.)",
)
TRAIN_FILES = ("hellaswag_train.jsonl", "train.parquet")
FIELDS = ("activity_label", "ctx_a", "ctx_b", "endings", "label")


def _clean(text: str) -> str:
    """lm-eval's hellaswag `preprocess`: drop WikiHow bracket artifacts and double spaces."""
    text = text.strip().replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def _docs(path: Path) -> list[McDoc]:
    docs = []
    for index, row in enumerate(read_split(path)):
        require_fields(path, index, row, FIELDS)
        context = row["ctx_a"] + " " + str(row["ctx_b"]).capitalize()
        choices = tuple(_clean(str(ending)) for ending in row["endings"])
        docs.append(McDoc(_clean(row["activity_label"] + ": " + context), choices, int(row["label"])))
    return docs


def build(source: UserFile, num_fewshot: int = NUM_FEWSHOT) -> list[dict[str, Any]]:
    docs = _docs(source.path())
    train = fewshot_file(source, TRAIN_FILES, num_fewshot)
    shots = _docs(train) if train is not None else []
    return mc_records("hellaswag", docs, shots, num_fewshot, draw_one_more=True)  # no test split in lm-eval
