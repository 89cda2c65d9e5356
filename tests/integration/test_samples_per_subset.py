"""++max_samples_per_subset=N end to end through pipeline/eval.py against a scripted server: the first N items of
every MMLU subject, the same ones on every rerun, recorded in the done marker like max_samples; a rerun with another
N reports only its own items, and a bad N is a one-line error before any request."""

import json
import subprocess
import sys
from collections import defaultdict

import pytest

from nemo_pipeline.datasets import load_items
from nemo_pipeline.inference.generate import select_items
from nemo_pipeline.jsonl import read_jsonl
from tests.fakes.openai_server import Script, ScriptedServer


def _eval(repo, env, url, out, *overrides):
    argv = [sys.executable, str(repo / "pipeline" / "eval.py"), "--cluster", "local", "--benchmarks", "mmlu:0",
            "--server_type", "openai", "--server_address", url, "--model", "scripted", "--output_dir", str(out),
            *overrides]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env, cwd=repo, check=False)


def _first_per_subject(items, n):
    """The expected selection, computed independently: per subject, its first n items in file order."""
    by_subject = defaultdict(list)
    for item in items:
        by_subject[item["subset"]].append(item["id"])
    return {subject: ids[:n] for subject, ids in by_subject.items()}


def test_select_items_per_subset_then_max_samples_then_chunks():
    items = [{"id": f"{s}{i}", "subset": s} for i in range(4) for s in "abc"] + [{"id": "x0"}, {"id": "x1"}]
    chosen = [it["id"] for it in select_items(items, -1, 1, 0, max_samples_per_subset=2)]
    assert chosen == ["a0", "b0", "c0", "a1", "b1", "c1", "x0", "x1"]  # file order kept; no subset: one group
    assert [it["id"] for it in select_items(items, 4, 1, 0, max_samples_per_subset=2)] == ["a0", "b0", "c0", "a1"]
    assert [it["id"] for it in select_items(items, -1, 2, 1, max_samples_per_subset=1)] == ["c0", "x0"]


@pytest.mark.timeout(600)
def test_samples_per_subset_rerun_and_other_n(tmp_path, repo, env_with_repo):
    items = load_items("mmlu")
    gold = {item["id"]: item["expected_answer"] for item in items}
    out = tmp_path / "out"
    bench_dir = out / "eval-results" / "mmlu"
    with ScriptedServer(Script(default="Answer: A")) as server:
        bad = _eval(repo, env_with_repo, server.url, out, "++max_samples_per_subset=0")
        assert bad.returncode != 0 and not server.script.requests
        assert (
            bad.stderr.strip().splitlines()[-1].endswith("max_samples_per_subset must be -1 (all) or at least 1, got 0")
        ), bad.stderr

        done = _eval(repo, env_with_repo, server.url, out, "++max_samples_per_subset=2")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        expected = _first_per_subject(items, 2)
        assert len(expected) == 57 and len(server.script.requests) == 114
        records = list(read_jsonl(bench_dir / "output.jsonl"))
        by_subject = defaultdict(set)
        for record in records:
            by_subject[record["subset"]].add(record["id"])
        assert by_subject == {subject: set(ids) for subject, ids in expected.items()}
        marker = json.loads((bench_dir / "output.jsonl.done").read_text())
        assert (marker["max_samples_per_subset"], marker["max_samples"]) == (2, -1)
        assert sorted(marker["ids"]) == sorted(i for ids in expected.values() for i in ids)
        metrics = json.loads((bench_dir / "metrics.json").read_text())["metrics"]
        assert metrics["all"]["num_entries"] == 114
        assert {s: b["num_entries"] for s, b in metrics.items() if s != "all"} == dict.fromkeys(expected, 2)
        right = sum(gold[i] == "A" for ids in expected.values() for i in ids)
        assert metrics["all"]["accuracy"] == pytest.approx(100 * right / 114)

        again = _eval(repo, env_with_repo, server.url, out, "++max_samples_per_subset=2")
        assert again.returncode == 0 and len(server.script.requests) == 114  # complete: nothing asked again

        one = _eval(repo, env_with_repo, server.url, out, "++max_samples_per_subset=1")
        assert one.returncode == 0, one.stderr[-3000:]
        assert len(server.script.requests) == 114  # its items were generated already
        metrics = json.loads((bench_dir / "metrics.json").read_text())["metrics"]
        assert metrics["all"]["num_entries"] == 57  # only its own items, though the file holds 114
        first = _first_per_subject(items, 1)
        assert metrics["all"]["accuracy"] == pytest.approx(
            100 * sum(gold[ids[0]] == "A" for ids in first.values()) / 57
        )
        summary = json.loads((out / "summary.json").read_text())
        assert summary["runs"][0]["benchmarks"]["mmlu"]["metrics"]["all"]["num_entries"] == 57

        three = _eval(repo, env_with_repo, server.url, out, "++max_samples_per_subset=3")
        assert three.returncode == 0, three.stderr[-3000:]
        assert len(server.script.requests) == 114 + 57  # only the third item of each subject is new
        metrics = json.loads((bench_dir / "metrics.json").read_text())["metrics"]
        assert metrics["all"]["num_entries"] == 171
