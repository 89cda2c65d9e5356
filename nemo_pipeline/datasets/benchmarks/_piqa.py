"""PIQA validation split (1,838 items): physical commonsense, two solutions per goal; 0-shot log-likelihood, acc and
acc_norm as in lm-evaluation-harness (user file: no offline source)."""

from __future__ import annotations

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
from nemo_pipeline.errors import DataError

NUM_FEWSHOT = 0
SOURCE = UserFile(
    benchmark="piqa",
    filenames=("valid.jsonl", "validation.parquet"),
    official_url="https://yonatanbisk.com/piqa/data/ (valid.jsonl and valid-labels.lst; train.jsonl and "
    "train-labels.lst for few-shot examples)",
    license="AFL-3.0 (PIQA, Bisk et al.)",
    how_to="Put valid-labels.lst beside valid.jsonl, or use rows that carry a 'label' field.",
)


def _docs(path: Path) -> list[McDoc]:
    rows = read_split(path)
    labels_file = path.with_name(path.name.replace(".jsonl", "-labels.lst"))
    if rows and "label" not in rows[0]:
        if not labels_file.is_file():
            raise DataError(f"{path}: rows carry no 'label'; put the official {labels_file.name} beside it")
        labels = [line.strip() for line in labels_file.read_text().splitlines() if line.strip()]
        if len(labels) != len(rows):
            raise DataError(f"{labels_file}: {len(labels)} labels for the {len(rows)} rows of {path.name}")
        rows = [{**row, "label": label} for row, label in zip(rows, labels, strict=True)]
    docs = []
    for index, row in enumerate(rows):
        require_fields(path, index, row, ("goal", "sol1", "sol2", "label"))
        docs.append(McDoc(f"Question: {row['goal']}\nAnswer:", (str(row["sol1"]), str(row["sol2"])), int(row["label"])))
    return docs


def build(source: UserFile, num_fewshot: int = NUM_FEWSHOT) -> list[dict[str, Any]]:
    docs = _docs(source.path())
    train = fewshot_file(source, ("train.jsonl", "train.parquet"), num_fewshot)
    shots = _docs(train) if train is not None else []
    return mc_records("piqa", docs, shots, num_fewshot, draw_one_more=True)  # no test split in lm-eval
