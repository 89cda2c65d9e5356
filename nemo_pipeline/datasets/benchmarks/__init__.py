"""Importing this package registers every built-in benchmark (one module each)."""

from nemo_pipeline.datasets.benchmarks import (
    aime25,
    gpqa_diamond,
    gsm8k,
    humaneval,
    ifeval,
    math500,
    mbpp,
    mmlu,
    mmlu_pro,
    mt_bench,
    mt_bench_101,
)

__all__ = [
    "aime25",
    "gpqa_diamond",
    "gsm8k",
    "humaneval",
    "ifeval",
    "math500",
    "mbpp",
    "mmlu",
    "mmlu_pro",
    "mt_bench",
    "mt_bench_101",
]
