"""pipeline/prepare_data.py as a user runs it: a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.datasets import BENCHMARKS

SCRIPT = Path(__file__).resolve().parents[2] / "pipeline" / "prepare_data.py"


def _run(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NEMO_PIPELINE_CACHE": str(cache)}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300, env=env, check=False
    )


@pytest.mark.timeout(600)
def test_prepare_then_list_shows_it_prepared(wheel_cache: Path) -> None:
    done = _run("aime25", "humaneval", cache=wheel_cache)
    assert done.returncode == 0, done.stderr
    assert str(wheel_cache / "data" / "aime25" / "test.jsonl") in done.stdout
    listing = _run("--list", cache=wheel_cache)
    assert listing.returncode == 0
    rows = {line.split()[0]: line.split() for line in listing.stdout.splitlines()[1:]}
    assert sorted(rows) == BENCHMARKS.names()
    assert rows["aime25"][1:3] == ["30", "yes"] and rows["humaneval"][1:3] == ["164", "yes"]
    assert rows["math500"][2] == "no" and "missing" in " ".join(rows["math500"])
    assert "CC BY 4.0" in " ".join(rows["gpqa-diamond"])


@pytest.mark.timeout(60)
def test_errors_are_one_line_without_traceback_and_exit_non_zero(tmp_path: Path) -> None:
    done = _run("mbpp", "no-such-benchmark", cache=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in done.stderr
    assert lines[0].startswith("error: mbpp: no offline source") and str(tmp_path / "sources" / "mbpp") in lines[0]
    assert "unknown benchmark 'no-such-benchmark'" in lines[1] and "mmlu-pro" in lines[1]


@pytest.mark.timeout(60)
def test_no_name_is_a_usage_error(tmp_path: Path) -> None:
    done = _run(cache=tmp_path)
    assert done.returncode == 2 and "--list" in done.stderr
