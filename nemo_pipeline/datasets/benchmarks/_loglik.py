"""Shared parts of the log-likelihood benchmarks: the evaluated split and the few-shot split of a user-file source,
and turning (question, choices, gold) documents into log-likelihood records with lm-eval's few-shot contexts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nemo_pipeline.datasets._benchmark import Reference
from nemo_pipeline.datasets._formats import read_records
from nemo_pipeline.datasets._source import UserFile
from nemo_pipeline.errors import DataError
from nemo_pipeline.loglik import LoglikFields, fewshot_prefix, loglik_record

__all__ = ["PROMPT", "McDoc", "fewshot_file", "lm_eval_reference", "mc_records"]

# Every log-likelihood benchmark builds its contexts at prepare time with lm-eval's templates; this prompt only
# passes them through (`{problem}` in completion mode).
PROMPT = "loglik/lm-eval"


@dataclass(frozen=True)
class McDoc:
    """One multiple-choice document: the question text (lm-eval's doc_to_text), the choices and the gold index."""

    query: str
    choices: tuple[str, ...]
    gold: int
    subset: str | None = None


def fewshot_file(source: UserFile, names: Sequence[str], num_fewshot: int) -> Path | None:
    """The few-shot (training) split beside the evaluated file; None for 0-shot; DataError saying where it goes."""
    if num_fewshot == 0:
        return None
    for name in names:
        candidate = source.target_dir() / name
        if candidate.is_file():
            return candidate
    wanted = " or ".join(str(source.target_dir() / n) for n in names)
    raise DataError(
        f"{source.benchmark}: {num_fewshot}-shot needs the training split for its examples; put it at {wanted} "
        f"(from {source.official_url}), then run: python pipeline/prepare_data.py {source.benchmark}"
    )


def mc_records(
    prefix: str,
    docs: Sequence[McDoc],
    shots: Sequence[McDoc],
    num_fewshot: int,
    *,
    description: str | Callable[[McDoc], str] = "",
    acc_norm: bool = True,
    first_n: bool = False,
    draw_one_more: bool = False,
    extra: Callable[[McDoc], Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Records `<prefix>-<index>`: context = description + few-shot examples + query; one choice per continuation.
    `draw_one_more`: lm-eval's sampling for tasks without a test split (see `fewshot_prefix`)."""
    fixed = description if isinstance(description, str) else ""
    next_prefix = fewshot_prefix(
        shots, num_fewshot, lambda d: (d.query, d.choices[d.gold]), description=fixed, first_n=first_n,
        draw_one_more=draw_one_more,
    )  # fmt: skip
    records = []
    for index, doc in enumerate(docs):
        head = next_prefix(None)  # evaluated docs come from another split: lm-eval never finds them among the shots
        if not isinstance(description, str):
            head = description(doc) + head
        fields = LoglikFields(choices=doc.choices, gold=doc.gold, acc_norm=acc_norm)
        records.append(
            loglik_record(
                f"{prefix}-{index:05d}",
                head + doc.query,
                fields,
                subset=doc.subset,
                extra=extra(doc) if extra else None,
            )
        )
    return records


def read_split(path: Path) -> list[dict[str, Any]]:
    """Rows of one split file (.jsonl, .json or .parquet)."""
    return read_records(path)


def lm_eval_reference(*task_files: str) -> Reference:
    """lm-evaluation-harness 0.4.13's own task, which a log-likelihood benchmark's items, requests and metrics
    follow (tests/loglik/test_lm_eval_contexts.py builds both from the same rows and compares them)."""
    return Reference(
        repository="EleutherAI/lm-evaluation-harness (PyPI lm-eval==0.4.13)",
        commit="v0.4.13",
        files=tuple(f"lm_eval/tasks/{name}" for name in task_files),
        protocol="lm-eval's task: its context, target delimiter, choices and few-shot setting; the sum of the "
        "continuation tokens' log-probabilities per choice; acc, acc_norm (per character) or mc2 with lm-eval's "
        "standard errors",
    )
