"""`++code_execution=true` through pipeline/eval.py: the generate stage starts a REAL local sandbox, runs the python
block the (scripted) model pauses on, and the model's final answer is read from the sandbox's output."""

import json
import re
import subprocess
import sys

import pytest

from nemo_pipeline.datasets import load_items
from nemo_pipeline.jsonl import read_jsonl
from tests.fakes.openai_server import Script, ScriptedServer

ITEMS = 3


def _model(items):
    """Writes a block that prints 3 * answer // 3; once the output is in its context, boxes what the block printed."""
    answers = {item["problem"]: item["expected_answer"] for item in items}

    def respond(path, body):
        assistant = body["messages"][-1]["content"] if body["messages"][-1]["role"] == "assistant" else ""
        shown = re.search(r"```output\n(.*?)\n```", assistant, re.S)
        if shown:
            return f"\nSo the answer is \\boxed{{{shown.group(1).strip()}}}."
        question = body["messages"][-1]["content"]
        expected = next(a for p, a in answers.items() if p in question)
        return f"Compute it.\n```python\nprint(3 * {expected} // 3)\n```\n```output\n0\n```\nSo 0."

    return Script(responder=respond, apply_stop=True)


@pytest.mark.timeout(300)
def test_code_blocks_run_in_the_sandbox_during_generation(tmp_path, repo, env_with_repo):
    items = load_items("gsm8k")[:ITEMS]
    out = tmp_path / "out"
    with ScriptedServer(_model(items)) as server:
        argv = [
            sys.executable, str(repo / "pipeline" / "eval.py"), "--benchmarks", "gsm8k:0", "--server_type", "openai",
            "--server_address", server.url, "--output_dir", str(out), f"++max_samples={ITEMS}",
            "++code_execution=true", "++prompt_config=generic/math-code", "++protocol=cot",  # \boxed answers
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, timeout=240, env=env_with_repo, cwd=repo)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert len(server.script.requests) == 2 * ITEMS  # one pause for the code, one continuation
    records = {r["id"]: r for r in read_jsonl(out / "eval-results" / "gsm8k" / "output.jsonl")}
    for item in items:
        record = records[item["id"]]
        (execution,) = record["code_executions"]
        assert execution["process_status"] == "completed"
        assert execution["stdout"].strip() == item["expected_answer"]
        assert f"```output\n{item['expected_answer']}\n```" in record["generation"]
        assert record["is_correct"] is True
    assert list((out / "logs" / "generate-gsm8k").glob("sandbox*.log"))
    metrics = json.loads((out / "eval-results" / "gsm8k" / "metrics.json").read_text())["metrics"]["all"]
    assert metrics["accuracy"] == pytest.approx(100.0)


@pytest.mark.timeout(60)
def test_code_execution_refuses_multi_turn_items(tmp_path, repo, env_with_repo):
    data = tmp_path / "mt.jsonl"
    data.write_text(json.dumps({"id": "a", "problem": "hi", "turns": ["hi", "more"]}) + "\n")
    argv = [
        sys.executable, str(repo / "pipeline" / "generate.py"), f"++input_file={data}",
        f"++output_file={tmp_path / 'o.jsonl'}", "++prompt_config=generic/chat", "++code_execution=true",
        "++server.server_type=openai", "++server.address=http://127.0.0.1:9/v1",
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=50, env=env_with_repo, cwd=repo)
    assert done.returncode != 0 and "code_execution" in done.stderr and "'a'" in done.stderr
