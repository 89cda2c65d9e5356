"""mt-bench through pipeline/eval.py: two-turn generation, then the judge stage (FastChat's protocol by default),
then grading and metrics, against two scripted servers (the model and the judge)."""

import json
import subprocess
import sys

import pytest

from nemo_pipeline.jsonl import read_jsonl
from tests.fakes.openai_server import Script, ScriptedServer

ITEMS = 4


def _eval(repo, env, out, model_url, judge_url, *extra):
    argv = [
        sys.executable, str(repo / "pipeline" / "eval.py"), "--benchmarks", "mt-bench:0", "--server_type", "openai",
        "--server_address", model_url, "--output_dir", str(out), f"++max_samples={ITEMS}",
        "++judge.server.server_type=openai", f"++judge.server.address={judge_url}", *extra,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=240, env=env, cwd=repo, check=False)


@pytest.mark.timeout(300)
def test_mt_bench_generates_two_turns_then_judges_each(tmp_path, repo, env_with_repo):
    out = tmp_path / "out"
    model = Script(default="Here is my considered answer.")
    # FastChat's protocol: turn 2 is judged with the multi-turn prompt, which holds the whole conversation.
    judge = Script(answers={"Assistant A's Conversation": "Weak follow-up. Rating: [[4]]"}, default="Fine. [[9]]")
    with ScriptedServer(model) as model_server, ScriptedServer(judge) as judge_server:
        done = _eval(repo, env_with_repo, out, model_server.url, judge_server.url)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert len(model.requests) == 2 * ITEMS  # two turns per item
        assert len(judge.requests) == 2 * ITEMS  # each turn judged
        assert {(r["temperature"], r["max_tokens"]) for r in judge.requests} == {(0.0, 2048)}  # FastChat's judge call
        assert {
            r["messages"][0]["content"] for r in judge.requests if "[Instruction]" in r["messages"][-1]["content"]
        } == {"You are a helpful assistant."}
        records = read_jsonl(out / "eval-results" / "mt-bench" / "output.jsonl")
        assert len(records) == ITEMS
        for record in records:
            assert record["generations"] == ["Here is my considered answer."] * 2
            assert record["scores"] == {"mt_bench_turn1": 9.0, "mt_bench_turn2": 4.0, "mt_bench_turns_rated": 2.0}
        metrics = json.loads((out / "eval-results" / "mt-bench" / "metrics.json").read_text())["metrics"]
        assert metrics["all"]["mt_bench_score"] == pytest.approx(6.5)
        assert metrics["all"]["mt_bench_turn1"] == pytest.approx(9.0)
        assert metrics["all"]["mt_bench_turn2"] == pytest.approx(4.0)
        assert metrics["all"]["mt_bench_turns_dropped"] == 0
        assert set(metrics) - {"all"}  # per-category blocks
        # The headline is MT-Bench's own score, under its name, with its protocol, in every table.
        assert json.loads((out / "eval-results" / "mt-bench" / "metrics.json").read_text())["headline"] == (
            "mt_bench_score"
        )
        row = next(line for line in (out / "summary.md").read_text().splitlines() if line.startswith("| mt-bench "))
        assert "mt_bench_score" in row and "official" in row and "6.50" in row
        script = (out / "jobs" / "evaluate-mt-bench.sh").read_text()
        assert "++grader=mt-bench" in script and judge_server.url in script
        # A rerun asks neither the model nor the judge again.
        again = _eval(repo, env_with_repo, out, model_server.url, judge_server.url)
        assert again.returncode == 0, again.stderr[-3000:]
        assert (len(model.requests), len(judge.requests)) == (2 * ITEMS, 2 * ITEMS)
        # Another judge model: the answers are kept, and only the judging and what follows run again.
        third = _eval(repo, env_with_repo, out, model_server.url, judge_server.url, "++judge.server.model=judge-b")
        assert third.returncode == 0, third.stderr[-3000:]
        assert (len(model.requests), len(judge.requests)) == (2 * ITEMS, 4 * ITEMS)
        assert "generate-mt-bench" not in third.stdout and "evaluate-mt-bench" in third.stdout


@pytest.mark.timeout(300)
def test_the_project_judge_protocol_is_opt_in(tmp_path, repo, env_with_repo):
    out = tmp_path / "out"
    model = Script(default="Here is my considered answer.")
    # The project's prompts show turn 1 as context of turn 2 ("Earlier conversation") and read a mean per item.
    judge = Script(answers={"Earlier conversation": "Weak follow-up. Rating: [[4]]"}, default="Fine. Rating: [[9]]")
    with ScriptedServer(model) as model_server, ScriptedServer(judge) as judge_server:
        done = _eval(repo, env_with_repo, out, model_server.url, judge_server.url, "++protocol=project-judge")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert {r["max_tokens"] for r in judge.requests} == {512}
        metrics = json.loads((out / "eval-results" / "mt-bench" / "metrics.json").read_text())
        assert metrics["protocol"] == "project-judge"
        assert metrics["metrics"]["all"]["judge_rating"] == pytest.approx(6.5)
        assert "mt_bench_score" not in metrics["metrics"]["all"]


@pytest.mark.timeout(120)
def test_bad_judge_mode_fails_before_any_request(tmp_path, repo, env_with_repo):
    with ScriptedServer(Script(default="x")) as server:
        done = _eval(repo, env_with_repo, tmp_path / "out", server.url, server.url, "++judge.mode=ranked")
        assert done.returncode != 0
        assert "judge.mode" in done.stderr and "ranked" in done.stderr
        assert server.script.requests == []
