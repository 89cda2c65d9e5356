"""WinoGrande (XL) development split (1,267 items): fill the blank with one of two options; 5-shot, scored as
lm-evaluation-harness does (each option completes the sentence's prefix; the rest of the sentence is scored; acc)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nemo_pipeline.datasets._formats import require_fields
from nemo_pipeline.datasets._source import UserFile
from nemo_pipeline.datasets.benchmarks._loglik import fewshot_file, read_split
from nemo_pipeline.errors import DataError
from nemo_pipeline.loglik import LoglikFields, fewshot_prefix, loglik_record

NUM_FEWSHOT = 5
SOURCE = UserFile(
    benchmark="winogrande",
    filenames=("dev.jsonl", "validation.parquet"),
    official_url="https://storage.googleapis.com/ai2-mosaic/public/winogrande/winogrande_1.1.zip "
    "(winogrande_1.1/dev.jsonl, and train_xl.jsonl beside it for the few-shot examples)",
    license="CC-BY (WinoGrande, Sakaguchi et al.)",
)
FIELDS = ("sentence", "option1", "option2", "answer")


def _rows(path: Path) -> list[tuple[tuple[str, str], str, int]]:
    """(per-option contexts, the continuation after the blank, gold index) per row."""
    out = []
    for index, row in enumerate(read_split(path)):
        require_fields(path, index, row, FIELDS)
        sentence = str(row["sentence"])
        blank = sentence.find("_")
        if blank < 0 or str(row["answer"]) not in ("1", "2"):
            raise DataError(f"{path}: record {index + 1} has no '_' blank or an answer other than 1/2")
        contexts = (sentence[:blank] + str(row["option1"]), sentence[:blank] + str(row["option2"]))
        out.append((contexts, sentence[blank + 1 :].strip(), int(row["answer"]) - 1))
    return out


def build(source: UserFile, num_fewshot: int = NUM_FEWSHOT) -> list[dict[str, Any]]:
    rows = _rows(source.path())
    train = fewshot_file(source, ("train_xl.jsonl", "train.parquet"), num_fewshot)
    shots = _rows(train) if train is not None else []
    # lm-eval's winogrande names no test split: it draws one more example and drops the evaluated one.
    next_prefix = fewshot_prefix(shots, num_fewshot, lambda r: (r[0][r[2]], r[1]), draw_one_more=True)
    records = []
    for index, (contexts, rest, gold) in enumerate(rows):
        fields = LoglikFields(choices=contexts, gold=gold, acc_norm=False, context_choices=contexts, continuation=rest)
        records.append(loglik_record(f"winogrande-{index:05d}", next_prefix(None), fields))
    return records
