"""A campaign on the local backend against two scripted models: one command, one run directory per model, one
comparison whose numbers equal the per-model metrics, and reruns that redo nothing (a model added runs alone)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nemo_pipeline.datasets import load_items
from tests.fakes.openai_server import Script, ScriptedServer


def _eval(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(repo / "pipeline" / "eval.py"), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, cwd=repo, check=False)


def _metrics(run: Path) -> dict[str, float]:
    return json.loads((run / "eval-results" / "gsm8k" / "metrics.json").read_text())["metrics"]["all"]


@pytest.mark.timeout(600)
def test_two_models_one_command_one_comparison(tmp_path, repo, env_with_repo):
    items = load_items("gsm8k")[:6]
    right = {
        item["problem"][:60]: f"The answer is {item['expected_answer']}.\n#### {item['expected_answer']}"
        for item in items
    }
    half = {
        item["problem"][:60]: f"The answer is {item['expected_answer']}.\n#### {item['expected_answer']}"
        for item in items[:3]
    }
    strong, weak = Script(answers=right, default="?"), Script(answers=half, default="The answer is -1.")
    out = tmp_path / "campaign"
    with ScriptedServer(strong) as a, ScriptedServer(weak) as b:
        models = tmp_path / "models.yaml"
        models.write_text(
            f"- name: strong\n  server_type: openai\n  server_address: {a.url}\n  baseline: true\n"
            f"- name: weak\n  server_type: openai\n  server_address: {b.url}\n"
        )
        done = _eval(repo, env_with_repo, "--models", str(models), "--benchmarks", "gsm8k:0",
                     "--output_dir", str(out), "++max_samples=6")  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert (len(strong.requests), len(weak.requests)) == (6, 6)
        for name in ("strong", "weak"):  # each model's folder is a complete single-model run
            for path in ("run.json", "summary.json", "eval-results/gsm8k/metrics.json", "jobs/generate-gsm8k.sh"):
                assert (out / name / path).exists(), f"{name}/{path}"
            assert (out / name / "logs" / "generate-gsm8k" / "job.json").exists()
        assert (out / "jobs" / "submit.sh").exists()  # the whole campaign, by hand
        assert _metrics(out / "strong")["accuracy"] == pytest.approx(100.0)
        assert _metrics(out / "weak")["accuracy"] == pytest.approx(50.0)
        summary = json.loads((out / "summary.json").read_text())
        reported = {run["name"]: run["benchmarks"]["gsm8k"]["metrics"]["all"]["accuracy"] for run in summary["runs"]}
        assert reported == {"strong": _metrics(out / "strong")["accuracy"], "weak": _metrics(out / "weak")["accuracy"]}
        assert summary["baseline"] == "strong"
        deltas = [c for c in summary["comparisons"] if c["model"] == "weak" and c["subset"] == "all"]
        assert deltas and deltas[0]["delta"] == pytest.approx(-50.0)
        assert (out / "report.html").exists() and "weak" in (out / "report.html").read_text()
        campaign = json.loads((out / "campaign.json").read_text())
        assert [m["name"] for m in campaign["models"]] == ["strong", "weak"]

        # The same command again: nothing to do, nobody asked.
        again = _eval(repo, env_with_repo, "--models", str(models), "--benchmarks", "gsm8k:0",
                      "--output_dir", str(out), "++max_samples=6")  # fmt: skip
        assert again.returncode == 0, again.stderr[-2000:]
        assert "nothing to do" in again.stdout
        assert (len(strong.requests), len(weak.requests)) == (6, 6)

        # A model added to the file runs alone; the comparison is made again with all three.
        with ScriptedServer(Script(answers=right, default="?")) as c:
            models.write_text(models.read_text() + f"- name: third\n  server_type: openai\n  server_address: {c.url}\n")
            third = _eval(repo, env_with_repo, "--models", str(models), "--benchmarks", "gsm8k:0",
                          "--output_dir", str(out), "++max_samples=6")  # fmt: skip
            assert third.returncode == 0, third.stdout[-2000:] + third.stderr[-2000:]
            assert len(c.script.requests) == 6
        assert (len(strong.requests), len(weak.requests)) == (6, 6)
        assert "[strong-generate" not in third.stdout and "[third-generate-gsm8k] running" in third.stdout
        summary = json.loads((out / "summary.json").read_text())
        assert [run["name"] for run in summary["runs"]] == ["strong", "weak", "third"]


@pytest.mark.timeout(600)
def test_models_file_published_entry_reaches_the_comparison(tmp_path, repo, env_with_repo):
    items = load_items("gsm8k")[:4]
    right = {
        item["problem"][:60]: f"The answer is {item['expected_answer']}.\n#### {item['expected_answer']}"
        for item in items
    }
    scores = tmp_path / "scores.yaml"
    scores.write_text(
        "models:\n  ours-7B:\n"
        "    - {benchmark: gsm8k, shots: 5, metric: accuracy, value: 40.0, source: 'https://example.org/card',"
        " date: '2026-01-05'}\n"
    )
    out = tmp_path / "campaign"
    with ScriptedServer(Script(answers=right, default="?")) as server:
        models = tmp_path / "models.yaml"
        entry = f"- name: ours\n  server_type: openai\n  server_address: {server.url}\n  published: ours-7B\n"
        models.write_text(entry.replace("ours-7B", "ours-8B") + "  published_file: scores.yaml\n")
        bad = _eval(repo, env_with_repo, "--models", str(models), "--benchmarks", "gsm8k:0",
                    "--output_dir", str(out), "++max_samples=4")  # fmt: skip
        assert bad.returncode != 0 and not server.script.requests and not out.exists()
        assert "key 'published': no published scores for 'ours-8B'. Did you mean 'ours-7B'?" in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr

        models.write_text(entry + "  published_file: scores.yaml\n")
        done = _eval(repo, env_with_repo, "--models", str(models), "--benchmarks", "gsm8k:0",
                     "--output_dir", str(out), "++max_samples=4")  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (published,) = json.loads((out / "summary.json").read_text())["published"]
    (gsm8k,) = published["benchmarks"]
    assert (published["run"], published["published"], gsm8k["status"]) == ("ours", "ours-7B", "compared")
    assert gsm8k["run_value"] == _metrics(out / "ours")["accuracy"] == pytest.approx(100.0)
    assert gsm8k["delta"] == pytest.approx(60.0)
    assert published["verdict"] == "ours against published ours-7B: above on 1 of 1 compared benchmark(s), below on 0"
    (own,) = json.loads((out / "ours" / "summary.json").read_text())["published"]  # the model's own summary too
    assert own["published"] == "ours-7B" and own["benchmarks"][0]["delta"] == pytest.approx(60.0)
