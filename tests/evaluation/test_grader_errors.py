"""Grader errors are never a silent zero: metrics.json counts them per block, and the evaluate stage writes the graded
file, then fails in one line naming the count and the first item when more than grading.max_error_rate are errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.config import EvaluateConfig, MetricsConfig
from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.evaluation.metrics import compute_metrics, grader_error_count, is_grader_error
from nemo_pipeline.evaluation.stages import run_compute_metrics, run_evaluate
from nemo_pipeline.jsonl import read_jsonl, write_jsonl_atomic
from nemo_pipeline.layout import graded_marker
from nemo_pipeline.records import GradedLine

REASON_ROWS = [
    ("grader_error: KeyError: 'entry_point'", True),
    ("grader_crashed", True),
    ("not_graded", True),
    ("sandbox_error: sandbox could not start: boom", True),
    ("timeout", False),  # a timeout is a verdict on the answer
    ("failed: AssertionError: ", False),
    ("passed", False),
    ("no_code", False),
    ("", False),
    (None, False),
    ("grader_errors_are_rare", False),
]


@pytest.mark.parametrize(("reason", "expected"), REASON_ROWS)
def test_is_grader_error(reason: str | None, expected: bool) -> None:
    assert is_grader_error(reason) is expected


def _record(item_id: str, reason: str, correct: bool = False, subset: str | None = None) -> dict:
    record = {"id": item_id, "problem": "p", "expected_answer": "", "generation": "g", "predicted_answer": "g",
              "is_correct": correct, "grading_reason": reason, "scores": {}}  # fmt: skip
    return {**record, "subset": subset} if subset else record


def test_metrics_count_grader_errors_per_block_and_over_seeds() -> None:
    greedy = [_record("a", "passed", True, "x"), _record("b", "grader_crashed", subset="x"),
              _record("c", "sandbox_error: down", subset="y"), _record("d", "timeout", subset="y")]  # fmt: skip
    metrics = compute_metrics({None: greedy})["metrics"]
    assert (metrics["all"]["grader_errors"], metrics["x"]["grader_errors"], metrics["y"]["grader_errors"]) == (2, 1, 1)
    assert metrics["all"]["accuracy"] == pytest.approx(25.0)  # still wrong in accuracy; the count says why
    seeded: dict[int | None, list[dict]] = {0: [_record("a", "passed", True), _record("b", "grader_error: boom")],
              1: [_record("a", "not_graded"), _record("b", "passed", True)]}  # fmt: skip
    assert compute_metrics(seeded)["metrics"]["all"]["grader_errors"] == 2
    assert grader_error_count([GradedLine.read(r, "") for r in greedy]) == 2


ITEM = {
    "problem": "p", "expected_answer": "", "prompt": "def f():\n", "test": "def check(c):\n    assert c() == 1\n",
    "entry_point": "f", "generation": "    return 1\n",
}  # fmt: skip


def _output(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "eval-results" / "humaneval" / "output.jsonl"
    path.parent.mkdir(parents=True)
    write_jsonl_atomic(path, [{**ITEM, "id": f"item-{n}"} for n in range(count)])
    return path


def _config(path: Path, sandbox: str, **grading: float) -> EvaluateConfig:
    cfg = EvaluateConfig(input_files=[str(path)], grader="code")
    cfg.sandbox.address = sandbox
    cfg.grading.workers = 2
    for key, value in grading.items():
        setattr(cfg.grading, key, value)
    return cfg


@pytest.mark.timeout(120)
def test_evaluate_fails_in_one_line_after_writing_the_graded_file(tmp_path: Path, failing_sandbox: str) -> None:
    path = _output(tmp_path, 3)
    with pytest.raises(DataError) as raised:
        run_evaluate(_config(path, failing_sandbox))
    message = str(raised.value)
    assert "\n" not in message
    assert "3 of 3 verdicts are grader errors" in message and "max_error_rate=0.02" in message
    assert "item 'item-0': sandbox_error: sandbox could not start: boom" in message
    records = read_jsonl(path)  # nothing lost: every verdict is in the file
    assert [r["grading_reason"] for r in records] == ["sandbox_error: sandbox could not start: boom"] * 3
    assert not graded_marker(path).exists()  # so a rerun grades the file again
    metrics = run_compute_metrics(MetricsConfig(benchmark_dir=str(path.parent)))
    assert metrics["metrics"]["all"]["grader_errors"] == 3


@pytest.mark.timeout(120)
def test_errors_within_the_allowed_rate_pass_and_are_counted(tmp_path: Path, failing_sandbox: str) -> None:
    path = _output(tmp_path, 2)
    (result,) = run_evaluate(_config(path, failing_sandbox, max_error_rate=1.0))
    assert (result.graded, result.correct, result.grader_errors) == (2, 0, 2)
    assert graded_marker(path).exists()
    with pytest.raises(ConfigError, match="max_error_rate"):
        run_evaluate(_config(_output(tmp_path / "again", 1), failing_sandbox, max_error_rate=2.0))


@pytest.mark.timeout(120)
def test_evaluate_script_prints_the_one_line(tmp_path: Path, failing_sandbox: str, repo: Path, env_with_repo) -> None:
    path = _output(tmp_path, 2)
    argv = [sys.executable, str(repo / "pipeline" / "evaluate.py"), f"++input_files=[{path}]", "++grader=code",
            f"++sandbox.address={failing_sandbox}", "++grading.workers=1"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=100, env=env_with_repo, cwd=repo, check=False)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "2 of 2 verdicts are grader errors" in errors[0] and "'item-0'" in errors[0]


@pytest.mark.timeout(120)
def test_evaluate_script_shows_the_count_when_within_the_rate(
    tmp_path: Path, failing_sandbox: str, repo: Path, env_with_repo
) -> None:
    path = _output(tmp_path, 2)
    argv = [sys.executable, str(repo / "pipeline" / "evaluate.py"), f"++input_files=[{path}]", "++grader=code",
            f"++sandbox.address={failing_sandbox}", "++grading.workers=1", "++grading.max_error_rate=1.0"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=100, env=env_with_repo, cwd=repo, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "0/2 correct" in done.stdout and "2 grader error(s)" in done.stdout
