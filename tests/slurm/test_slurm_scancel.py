"""A generate job cancelled with `scancel` mid-generation on the real single-node Slurm, then the same eval.py command
rerun: every item is there once, items written before the cancel are not asked again, and the metrics cover all."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nemo_pipeline.jsonl import read_jsonl
from tests.fakes.openai_server import Script, ScriptedServer

ITEMS = 10
CLUSTER = "conf/cluster/slurm-local.yaml"  # the single-node cluster of scripts/install_slurm.sh, fast polling


def _eval(
    repo: Path, env: dict[str, str], out: Path, url: str, *extra: str, timeout: float
) -> subprocess.CompletedProcess:
    argv = [
        sys.executable, str(repo / "pipeline" / "eval.py"), "--cluster", str(repo / CLUSTER), "--benchmarks", "gsm8k:0",
        "--server_type", "openai", "--server_address", url, "--output_dir", str(out), f"++max_samples={ITEMS}",
        "++max_concurrent_requests=2", *extra,
    ]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=repo, check=False)


def _ids(path: Path) -> list[str]:
    """Ids of the complete lines written so far (a line being written is not counted)."""
    if not path.exists():
        return []
    return [json.loads(line)["id"] for line in path.read_text().split("\n")[:-1] if line.strip()]


def _queued(job_ids: list[str]) -> str:
    """squeue's lines for those of `job_ids` still pending or running ('' when none is)."""
    done = subprocess.run(
        ["squeue", "-h", "-j", ",".join(job_ids), "-o", "%i %j %T"], capture_output=True, text=True, timeout=30
    )
    return done.stdout.strip()


def _asked(script: Script, problem: str, since: int) -> int:
    """Requests from index `since` on whose prompt or messages carry `problem`."""
    with script.lock:
        bodies = script.requests[since:]
    return sum(problem in _prompt(body) for body in bodies)


def _prompt(body: dict) -> str:
    """The text a generation request asks about: its prompt, or its messages' contents."""
    return str(body.get("prompt", "")) + "\n".join(str(m.get("content", "")) for m in body.get("messages", []))


@pytest.mark.timeout(600)
def test_scancel_mid_generation_then_rerun_loses_and_repeats_nothing(slurm, tmp_path, repo, env_with_repo):
    out = tmp_path / "run"
    output = out / "eval-results" / "gsm8k" / "output.jsonl"
    # Each answer takes 1 s and two are in flight: generation lasts about 5 s, long enough to cancel it midway.
    script = Script(default="So the answer is 4.", delay_s=1.0)
    with ScriptedServer(script) as server:
        submitted = _eval(repo, env_with_repo, out, server.url, timeout=120)
        assert submitted.returncode == 0, submitted.stdout[-3000:] + submitted.stderr[-3000:]
        job_ids: dict[str, str] = json.loads((out / "jobs" / "submitted.json").read_text())["job_ids"]
        (generate_id,) = [i for name, i in job_ids.items() if name.startswith("generate")]  # the one server job

        deadline = time.monotonic() + 240
        while len(_ids(output)) < 2:
            assert time.monotonic() < deadline, (
                f"no 2 items written within 240 s; queue: {_queued(list(job_ids.values()))}"
            )
            time.sleep(0.1)
        subprocess.run(["scancel", generate_id], check=True, timeout=30)
        # The cancelled job's dependents are cancelled too (afterok); summarize (afterany) still runs. Wait for all.
        deadline = time.monotonic() + 180
        while queued := _queued(list(job_ids.values())):
            assert time.monotonic() < deadline, f"first run's jobs still queued 180 s after scancel:\n{queued}"
            time.sleep(0.5)
        kept = {r["id"]: r["problem"] for r in read_jsonl(output)}
        assert 2 <= len(kept) < ITEMS, f"{len(kept)} items written before the cancel took effect"
        asked_before = len(script.requests)

        rerun = _eval(repo, env_with_repo, out, server.url, "--wait", timeout=420)
        assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]

    records = read_jsonl(output)
    ids = [r["id"] for r in records]
    assert len(ids) == ITEMS and len(set(ids)) == ITEMS, ids  # nothing lost, nothing duplicated
    assert all(r["generation"] == "So the answer is 4." for r in records)
    asked_again = {i: _asked(script, problem, asked_before) for i, problem in kept.items()}
    assert sum(asked_again.values()) == 0, asked_again  # what was written before the cancel was not asked again
    missing = {r["id"]: r["problem"] for r in records if r["id"] not in kept}
    assert all(_asked(script, problem, asked_before) >= 1 for problem in missing.values())
    assert len(script.requests) - asked_before == ITEMS - len(kept)  # one request per missing item, no more
    metrics = json.loads((out / "eval-results" / "gsm8k" / "metrics.json").read_text())["metrics"]["all"]
    assert metrics["num_entries"] == ITEMS
    assert "gsm8k" in json.dumps(json.loads((out / "summary.json").read_text()))
