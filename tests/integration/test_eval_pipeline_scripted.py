"""pipeline/eval.py end to end on the local backend against a scripted server: files, metrics, resume, errors."""

import json
import subprocess
import sys

import pytest

from nemo_pipeline.datasets import load_items
from nemo_pipeline.jsonl import read_jsonl
from tests.fakes.openai_server import Script, ScriptedServer


def _eval(repo, env, *args, timeout=240):
    argv = [sys.executable, str(repo / "pipeline" / "eval.py"), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=repo, check=False)


@pytest.fixture(scope="module")
def gsm8k_head():
    return load_items("gsm8k")[:6]


@pytest.mark.timeout(300)
def test_openai_server_type_full_pipeline(tmp_path, repo, env_with_repo, gsm8k_head):
    # Correct answers for the first four items, a wrong one for the fifth, nothing parseable for the sixth.
    answers = {
        item["problem"][:60]: f"The answer is {item['expected_answer']}.\n#### {item['expected_answer']}"
        for item in gsm8k_head[:4]
    }
    answers[gsm8k_head[4]["problem"][:60]] = "The answer is 123456789."
    answers[gsm8k_head[5]["problem"][:60]] = "I cannot say."
    out = tmp_path / "out"
    with ScriptedServer(Script(answers=answers, default="???")) as server:
        done = _eval(
            repo, env_with_repo, "--cluster", "local", "--benchmarks", "gsm8k:0", "--server_type", "openai",
            "--server_address", server.url, "--model", "scripted-model", "--output_dir", str(out), "++max_samples=6",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        requests_first_run = len(server.script.requests)
        metrics = json.loads((out / "eval-results" / "gsm8k" / "metrics.json").read_text())["metrics"]["all"]
        assert metrics["num_entries"] == 6
        assert metrics["accuracy"] == pytest.approx(100 * 4 / 6)
        records = {r["id"]: r for r in read_jsonl(out / "eval-results" / "gsm8k" / "output.jsonl")}
        assert records[gsm8k_head[4]["id"]]["is_correct"] is False
        assert records[gsm8k_head[0]["id"]]["predicted_answer"] == gsm8k_head[0]["expected_answer"]
        for name in ("summary.json", "summary.md", "summary.csv", "report.html", "run.json"):
            assert (out / name).exists(), name
        scripts = sorted(p.name for p in (out / "jobs").glob("*.sh"))
        assert scripts == ["evaluate-gsm8k.sh", "generate-gsm8k.sh", "metrics-gsm8k.sh", "submit.sh", "summarize.sh"]
        # Each script reruns its step by hand.
        rerun = subprocess.run(["bash", str(out / "jobs" / "metrics-gsm8k.sh")], capture_output=True, text=True,
                               env=env_with_repo, timeout=60, check=False)  # fmt: skip
        assert rerun.returncode == 0, rerun.stderr
        # Rerunning the same command skips what is complete: no new requests.
        again = _eval(
            repo, env_with_repo, "--cluster", "local", "--benchmarks", "gsm8k:0", "--server_type", "openai",
            "--server_address", server.url, "--model", "scripted-model", "--output_dir", str(out), "++max_samples=6",
        )  # fmt: skip
        assert again.returncode == 0, again.stderr
        assert len(server.script.requests) == requests_first_run
        assert "generate-gsm8k" not in again.stdout


@pytest.mark.timeout(300)
def test_seeds_give_pass_and_majority_metrics(tmp_path, repo, env_with_repo, gsm8k_head):
    answers = {
        item["problem"][:60]: f"The answer is {item['expected_answer']}.\n#### {item['expected_answer']}"
        for item in gsm8k_head[:2]
    }
    out = tmp_path / "out"
    with ScriptedServer(Script(answers=answers, default="The answer is 0.")) as server:
        done = _eval(
            repo, env_with_repo, "--benchmarks", "gsm8k:3", "--server_type", "openai", "--server_address", server.url,
            "--output_dir", str(out), "++max_samples=4",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        temperatures = {r["temperature"] for r in server.script.requests}
    bench = out / "eval-results" / "gsm8k"
    assert sorted(p.name for p in bench.glob("output-rs*.jsonl")) == [f"output-rs{s}.jsonl" for s in range(3)]
    metrics = json.loads((bench / "metrics.json").read_text())["metrics"]["all"]
    assert temperatures == {0.7}
    assert metrics["pass@1"] == pytest.approx(50.0)
    assert metrics["majority@3"] == pytest.approx(50.0)
    assert metrics["pass@3"] == pytest.approx(50.0)
    assert metrics["pass@1_std_err"] == pytest.approx(0.0)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--benchmarks", "gsm8kk:0"], "unknown benchmark 'gsm8kk'. Did you mean 'gsm8k'?"),
        (["--benchmarks", "gsm8k:x"], "'gsm8k:x' is not of the form NAME or NAME:SEEDS"),
        (["--benchmarks", "gsm8k:0", "++inference.temprature=0.5"], "Did you mean 'inference.temperature'?"),
        (["--benchmarks", "gsm8k:0", "++max_samples=ten"], "max_samples=ten"),
        (["--benchmarks", "gsm8k:0", "--server_type", "openai"], "needs --server_address"),
        (
            ["--benchmarks", "gsm8k:0", "--server_type", "openai", "--server_address", "http://127.0.0.1:9/v1"],
            "server address http://127.0.0.1:9/v1 is unreachable",
        ),
        (["--benchmarks", "gsm8k:0", "--server_type", "vlm"], "unknown server type 'vlm'"),
    ],
)
def test_bad_input_fails_in_one_line_before_anything_starts(tmp_path, repo, env_with_repo, args, message):
    done = _eval(repo, env_with_repo, "--output_dir", str(tmp_path / "out"), *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "out" / "jobs").exists()


@pytest.mark.timeout(300)
def test_a_failing_job_is_reported_with_the_tail_of_its_log(tmp_path, repo, env_with_repo):
    out = tmp_path / "out"
    # The server answers health checks but rejects every generation request with HTTP 400 (not retried).
    with ScriptedServer(Script(fail_first=10**9, fail_status=400)) as server:
        done = _eval(
            repo, env_with_repo, "--benchmarks", "gsm8k:0", "--server_type", "openai", "--server_address", server.url,
            "--output_dir", str(out), "++max_samples=2",
        )  # fmt: skip
    assert done.returncode == 2
    assert "generate-gsm8k: FAILED" in done.stderr and "evaluate-gsm8k: CANCELLED" in done.stderr
    log = out / "logs" / "generate-gsm8k" / "main.log"
    assert f"log: {log}" in done.stderr
    assert "HTTP 400" in done.stderr.split(f"log: {log}", 1)[1]  # the cause, from the job's own log
    assert (out / "summary.json").exists()  # summarize still ran and says what is missing
    status = subprocess.run(
        [sys.executable, str(repo / "pipeline" / "status.py"), str(out)],
        capture_output=True, text=True, timeout=60, env=env_with_repo, check=False,
    )  # fmt: skip
    assert status.returncode == 1
    lines = {line.split()[0]: line for line in status.stdout.splitlines()}
    assert "FAILED (exit code" in lines["generate-gsm8k"] and str(log) in lines["generate-gsm8k"]
    assert "CANCELLED" in lines["evaluate-gsm8k"] and "COMPLETED" in lines["summarize"]


@pytest.mark.timeout(300)
def test_a_rerun_with_other_generation_settings_is_refused_not_mixed(tmp_path, repo, env_with_repo, gsm8k_head):
    out = tmp_path / "out"
    with ScriptedServer(Script(default="The answer is 1.")) as server:
        common = ["--benchmarks", "gsm8k:0", "--server_type", "openai", "--server_address", server.url,
                  "--output_dir", str(out), "++max_samples=2"]  # fmt: skip
        first = _eval(repo, env_with_repo, *common)
        assert first.returncode == 0, first.stderr
        asked = len(server.script.requests)
        # More items with the same settings extend the file; a changed temperature is refused before any request.
        hotter = _eval(repo, env_with_repo, *common, "++inference.temperature=0.6")
        assert hotter.returncode == 2
        assert "output.jsonl was generated with other settings (inference.temperature: 0.0 -> 0.6)" in hotter.stderr
        assert len(server.script.requests) == asked
        more = _eval(repo, env_with_repo, *common[:-1], "++max_samples=3")
        assert more.returncode == 0, more.stderr
        assert len(server.script.requests) == asked + 1
    assert len(read_jsonl(out / "eval-results" / "gsm8k" / "output.jsonl")) == 3
