"""Every benchmark the issue list names declares the official reference its default follows, and the log-likelihood
benchmarks' references point at task files that exist in the pinned lm-evaluation-harness."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from nemo_pipeline.datasets import BENCHMARKS
from tests.conftest import DEV_INSTALL, require

OFFICIAL = ["gsm8k", "gpqa-diamond", "humaneval", "ifeval", "mbpp", "mmlu-pro", "mt-bench", "mt-bench-101"]


@pytest.mark.timeout(30)
def test_benchmarks_declare_their_reference() -> None:
    loglik = [name for name in BENCHMARKS.names() if BENCHMARKS.get(name).grader == "loglik"]
    assert len(loglik) == 8
    for name in OFFICIAL + loglik:
        reference = BENCHMARKS.get(name).reference
        assert reference is not None, name
        assert reference.repository and reference.commit and reference.files and reference.protocol, name


@pytest.mark.timeout(30)
def test_log_likelihood_references_name_lm_eval_task_files_that_exist() -> None:
    spec = importlib.util.find_spec("lm_eval")
    require("lm-eval", spec is not None, f"{DEV_INSTALL} (pip install lm-eval==0.4.13)")
    assert spec is not None and spec.origin is not None
    package = Path(spec.origin).parent
    for name in BENCHMARKS.names():
        bench = BENCHMARKS.get(name)
        if bench.grader != "loglik":
            continue
        assert bench.reference is not None and "lm-evaluation-harness" in bench.reference.repository, name
        for file in bench.reference.files:
            assert (package.parent / file).is_file(), f"{name}: {file}"
