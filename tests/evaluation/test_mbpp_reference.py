"""MBPP scored as bigcode-evaluation-harness scores it: our loader's prompt and our `mbpp` grader (through the real
sandbox) against the harness's own prompt, program and verdicts on the same completions (tests/fixtures/mbpp:
real MBPP items, the harness's verdicts kept by regenerate_bigcode_verdicts.py at the pinned commit), and the whole
pipeline/eval.py run on the reference solutions (100%) and on wrong ones (0%)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nemo_pipeline.datasets import BENCHMARKS, prepare
from nemo_pipeline.datasets.benchmarks import mbpp
from nemo_pipeline.evaluation.graders import GRADERS, GraderContext
from nemo_pipeline.evaluation.mbpp_grader import MBPP_STOP, build_mbpp_program
from nemo_pipeline.inference.client import MAX_SERVER_STOPS
from nemo_pipeline.inference.prompts import load_prompt
from nemo_pipeline.jsonl import read_jsonl
from nemo_pipeline.sandbox import LocalSandbox
from tests.fakes.openai_server import Script, ScriptedServer

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "mbpp"
VERDICTS = [json.loads(line) for line in (FIXTURE / "bigcode_verdicts.jsonl").read_text().splitlines()]
TEST_ITEMS = 9  # mbpp.jsonl: task 10 (prompt split) and nine test-split tasks


@pytest.fixture
def mbpp_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cache whose MBPP user file is the fixture, prepared as if it were the whole test split."""
    cache = tmp_path / "cache"
    (cache / "sources" / "mbpp").mkdir(parents=True)
    shutil.copy2(FIXTURE / "mbpp.jsonl", cache / "sources" / "mbpp" / "mbpp.jsonl")
    monkeypatch.setenv("NEMO_PIPELINE_CACHE", str(cache))
    monkeypatch.setitem(BENCHMARKS._entries, "mbpp", dataclasses.replace(BENCHMARKS.get("mbpp"), num_items=TEST_ITEMS))
    prepare("mbpp")
    return cache


def _items(cache: Path) -> dict[int, dict[str, Any]]:
    return {int(item["task_id"]): item for item in read_jsonl(cache / "data" / "mbpp" / "test.jsonl")}


@pytest.mark.timeout(30)
def test_prompt_and_program_are_bigcodes(mbpp_cache: Path) -> None:
    items = _items(mbpp_cache)
    assert sorted(items) == [11, 12, 13, 14, 15, 16, 17, 19, 20]  # task 10 is in the prompt split
    prompt_config = load_prompt(BENCHMARKS.get("mbpp").prompt_config)
    assert prompt_config.mode == "completion" and prompt_config.stop == MBPP_STOP
    for row in VERDICTS:
        item = items[row["task_id"]]
        assert prompt_config.render(item) == row["bigcode_prompt"]
        assert build_mbpp_program(item, row["completion"]) == row["bigcode_program"], row["name"]


@pytest.fixture(scope="module")
def context() -> Iterator[GraderContext]:
    with LocalSandbox(workers=4) as sandbox:
        yield GraderContext(sandbox_url=sandbox.url, timeout_s=10.0)


@pytest.mark.timeout(300)
def test_verdicts_equal_bigcodes(mbpp_cache: Path, context: GraderContext) -> None:
    items = _items(mbpp_cache)
    grader = GRADERS.get("mbpp")
    disagreements = []
    for row in VERDICTS:
        verdict = grader({**items[row["task_id"]], "generation": row["completion"]}, context)
        if verdict.correct != row["passed"]:
            disagreements.append((row["task_id"], row["name"], row["result"], verdict.reason))
        if row["result"] == "timed out":
            assert verdict.reason in {
                "timeout",
                "failed: the program ended before reporting (sandbox status completed)",
            }
    assert not disagreements
    kinds = {row["name"] for row in VERDICTS}
    assert {"reference", "wrong", "sys_exit_zero", "os_exit_zero", "infinite_loop", "reference_then_assert"} <= kinds
    assert {row["passed"] for row in VERDICTS} == {True, False}


def _mbpp_model(items: dict[int, dict[str, Any]], wrong: bool) -> Script:
    """Answers each prompt with the item's reference code, or with a same-named function returning None."""
    by_prompt = {item["prompt"]: item for item in items.values()}

    def respond(path: str, body: dict[str, Any]) -> str:
        item = by_prompt[body["prompt"]]
        if not wrong:
            return str(item["expected_answer"])
        name = re.match(r"assert\s+(\w+)\(", item["test_list"][0])
        assert name is not None
        return f"def {name.group(1)}(*args):\n    return None\n"

    return Script(responder=respond, apply_stop=True)


@pytest.mark.timeout(400)
@pytest.mark.parametrize(("wrong", "accuracy"), [(False, 100.0), (True, 0.0)])
def test_eval_py_end_to_end(
    mbpp_cache: Path, repo: Path, env_with_repo: dict[str, str], tmp_path: Path, wrong: bool, accuracy: float
) -> None:
    items = _items(mbpp_cache)
    out = tmp_path / "out"
    env = {**env_with_repo, "NEMO_PIPELINE_CACHE": str(mbpp_cache)}
    with ScriptedServer(_mbpp_model(items, wrong)) as server:
        argv = [
            sys.executable, str(repo / "pipeline" / "eval.py"), "--benchmarks", "mbpp:0", "--server_type", "openai",
            "--server_address", server.url, "--output_dir", str(out),
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=360, env=env, cwd=repo, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert {request["prompt"] for request in server.script.requests} == {item["prompt"] for item in items.values()}
        # The request carries the first stop strings a server accepts; the client cuts the text at the others.
        sent = MBPP_STOP[:MAX_SERVER_STOPS]
        assert all(tuple(request["stop"]) == sent for request in server.script.requests)
    records = read_jsonl(out / "eval-results" / "mbpp" / "output.jsonl")
    assert len(records) == TEST_ITEMS
    reasons = {record["grading_reason"] for record in records}
    assert reasons == ({"failed: AssertionError: "} if wrong else {"passed"})
    metrics = json.loads((out / "eval-results" / "mbpp" / "metrics.json").read_text())["metrics"]["all"]
    assert metrics["accuracy"] == pytest.approx(accuracy)
    assert metrics["num_entries"] == TEST_ITEMS and metrics["grader_errors"] == 0


def test_reference_is_pinned() -> None:
    reference = BENCHMARKS.get("mbpp").reference
    assert reference is not None and reference.repository == "bigcode-project/bigcode-evaluation-harness"
    script = (FIXTURE / "regenerate_bigcode_verdicts.py").read_text()
    assert f'COMMIT = "{reference.commit}"' in script
    assert mbpp.REFERENCE is reference
