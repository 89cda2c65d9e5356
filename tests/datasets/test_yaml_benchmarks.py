"""Benchmarks defined in a YAML file: found by name under conf/benchmark/ or by path, run through pipeline/eval.py
with a scripted model and judge (mean rubric score per ability), and a one-line error for every bad file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from nemo_pipeline.config import CONF_DIR
from nemo_pipeline.datasets import BENCHMARKS, load_benchmark_file
from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.jsonl import read_jsonl
from tests.fakes.openai_server import Script, ScriptedServer

SUITE = CONF_DIR / "benchmark" / "suites" / "multiturn-abilities.yaml"


def test_the_example_suite_is_found_by_name_and_by_path() -> None:
    by_name = BENCHMARKS.get("multiturn-abilities")
    assert BENCHMARKS.get(str(SUITE)) is by_name
    assert "multiturn-abilities" not in BENCHMARKS.names()  # file-defined: found on lookup, not a built-in
    assert (by_name.grader, by_name.multi_turn, by_name.num_items) == ("judge", True, 6)
    items = by_name.load(by_name.source)
    assert {item["subset"] for item in items} == {"context-recall", "self-correction", "format-following"}
    first = items[0]
    assert first["id"] == "recall-01" and len(first["turns"]) == 2 and first["problem"] == first["turns"][0]
    assert first["reference"] == [first["rubric"]] * 2  # the rubric is the judge's reference on every turn


def _write(tmp_path: Path, spec: dict[str, Any], rows: list[dict[str, Any]] | None = None) -> Path:
    data = tmp_path / "cases.jsonl"
    rows = rows if rows is not None else [{"q": "What is 2+2?", "a": "4", "kind": "easy"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


GOOD = {
    "name": "tiny-math",
    "data": "cases.jsonl",
    "grader": "math",
    "prompt_config": "generic/math",
    "fields": {"problem": "q", "expected_answer": "a", "subset": "kind"},
}


def test_a_good_file_defines_a_benchmark(tmp_path: Path) -> None:
    bench = load_benchmark_file(_write(tmp_path, GOOD))
    assert (bench.name, bench.grader, bench.num_items, bench.multi_turn) == ("tiny-math", "math", 1, False)
    assert bench.load(bench.source) == [
        {"id": "tiny-math-0000", "problem": "What is 2+2?", "expected_answer": "4", "subset": "easy"}
    ]


@pytest.mark.parametrize(
    ("grader", "sandbox"),
    [("math", False), ("code", True), ("code-extract", True), ("mbpp", True), ("mbpp-extract", True)],
)
def test_a_grader_that_runs_programs_gets_a_sandbox(tmp_path: Path, grader: str, sandbox: bool) -> None:
    bench = load_benchmark_file(_write(tmp_path, {**GOOD, "grader": grader}))
    assert bench.needs_sandbox is sandbox
    # an older file that states what its grader's spec says still loads
    stated = load_benchmark_file(_write(tmp_path, {**GOOD, "grader": grader, "needs_sandbox": sandbox}))
    assert stated.needs_sandbox is sandbox


@pytest.mark.parametrize(
    ("change", "key", "error"),
    [
        ({"grader": "nonesuch"}, "grader", ConfigError),
        ({"data": "missing.jsonl"}, "data", ConfigError),
        ({"data": "cases.txt"}, "data", ConfigError),
        ({"fields": {"problem": "question"}}, "fields.problem", DataError),
        ({"fields": {"problme": "q"}}, "fields.problme", ConfigError),
        ({"prompt_config": "generic/nonesuch"}, "prompt_config", ConfigError),
        ({"grader": None}, "grader", ConfigError),
        ({"colour": "blue"}, "colour", ConfigError),
        ({"subsets": ["hard"]}, "subsets", DataError),
        ({"name": "gsm8k"}, "name", ConfigError),
        ({"sha256": "0" * 64}, "sha256", ConfigError),
        ({"default_server_type": "nonesuch"}, "default_server_type", ConfigError),
        ({"needs_sandbox": True}, "needs_sandbox", ConfigError),  # math runs no programs: its spec decides
        ({"grader": "code", "needs_sandbox": False}, "needs_sandbox", ConfigError),
    ],
)
def test_every_bad_file_is_a_one_line_error_naming_the_file_and_key(
    tmp_path: Path, change: dict[str, Any], key: str, error: type[Exception]
) -> None:
    spec = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    path = _write(tmp_path, spec)
    with pytest.raises(error) as raised:
        load_benchmark_file(path)
    message = str(raised.value)
    assert str(path.resolve()) in message and f"'{key}'" in message and "\n" not in message, message


def test_an_unknown_name_still_lists_the_known_benchmarks() -> None:
    with pytest.raises(ConfigError, match="unknown benchmark 'nonesuch'"):
        BENCHMARKS.get("nonesuch")
    with pytest.raises(ConfigError, match="no benchmark file"):
        BENCHMARKS.get("nowhere/suite.yaml")


# The judge rates by the case's rubric: recall cases 9 and 7 (mean 8), self-correction 4 and 2 (mean 3), format
# cases the default 6. Each case's rubric is the reference of both of its turns, so both turns get its rating.
JUDGE = {"must say Lisbon": 9, "name both Miso and Tofu": 7, "The answer is 51": 4, "keep the Pacific": 2}


@pytest.mark.timeout(300)
def test_the_suite_runs_through_eval_with_the_mean_rubric_score_per_ability(
    tmp_path: Path, repo: Path, env_with_repo: dict[str, str]
) -> None:
    model = Script(default="A short answer.")
    judge = Script(answers={k: f"Checked. Rating: [[{v}]]" for k, v in JUDGE.items()}, default="Rating: [[6]]")
    out = tmp_path / "out"
    with ScriptedServer(model) as model_server, ScriptedServer(judge) as judge_server:
        argv = [
            sys.executable, str(repo / "pipeline" / "eval.py"), "--benchmarks", f"{SUITE}:0",
            "--server_type", "openai", "--server_address", model_server.url, "--output_dir", str(out),
            "++judge.server.server_type=openai", f"++judge.server.address={judge_server.url}",
            "++judge.reference_prompt_config=judge/rubric",
        ]  # fmt: skip
        env = {**env_with_repo, "NEMO_PIPELINE_CACHE": str(tmp_path / "cache")}
        done = subprocess.run(argv, capture_output=True, text=True, timeout=240, env=env, cwd=repo)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert len(model.requests) == 12 and len(judge.requests) == 12  # 6 cases x 2 turns, each turn judged
    assert all("[Rubric]" in r["messages"][-1]["content"] for r in judge.requests)
    metrics = json.loads((out / "eval-results" / "multiturn-abilities" / "metrics.json").read_text())["metrics"]
    assert metrics["context-recall"]["judge_rating"] == pytest.approx(8.0)
    assert metrics["self-correction"]["judge_rating"] == pytest.approx(3.0)
    assert metrics["format-following"]["judge_rating"] == pytest.approx(6.0)
    assert metrics["all"]["judge_rating"] == pytest.approx(17 / 3)
    records = read_jsonl(out / "eval-results" / "multiturn-abilities" / "output.jsonl")
    assert {r["id"]: r["is_correct"] for r in records}["recall-01"] is True  # 9 >= 7


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_suite_runs_on_the_embedded_model_as_model_and_judge(
    tmp_path: Path, repo: Path, env_with_repo: dict[str, str], embedded_model: tuple[str, str]
) -> None:
    """A real run: the embedded llama.cpp model answers both turns and judges them by each case's rubric."""
    out = tmp_path / "out"
    argv = [
        sys.executable, str(repo / "pipeline" / "eval.py"), "--benchmarks", "multiturn-abilities:0",
        "--output_dir", str(out), "++max_samples=2", "++inference.tokens_to_generate=32",
        "++judge.tokens_to_generate=32", "++judge.reference_prompt_config=judge/rubric",
    ]  # fmt: skip
    env = {**env_with_repo, "NEMO_PIPELINE_CACHE": str(tmp_path / "cache")}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=840, env=env, cwd=repo)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = read_jsonl(out / "eval-results" / "multiturn-abilities" / "output.jsonl")
    assert len(records) == 2 and all(len(r["generations"]) == 2 for r in records)
    assert all(len(r["judge_generation"]) == 2 for r in records)  # each turn judged
    metrics = json.loads((out / "eval-results" / "multiturn-abilities" / "metrics.json").read_text())["metrics"]
    assert {r["subset"] for r in records} <= set(metrics)  # one block per ability
    assert list((out / "logs").rglob("server-llamacpp-*.log"))
