"""The generate stage under server faults, against an asyncio scripted server: every item ends exactly once with its
own answer, or the stage fails after bounded retries naming the failed items - never a traceback, never short."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nemo_pipeline.config import GenerateConfig, compose_config
from nemo_pipeline.inference import RequestError, run_generate
from nemo_pipeline.jsonl import read_jsonl
from tests.fakes.queue_server import QueueServer, ServerScript

REPO = Path(__file__).resolve().parents[2]


def _cfg(url: str, data: Path, out: Path, *extra: str) -> GenerateConfig:
    return compose_config(
        GenerateConfig,
        "generate",
        [
            f"++input_file={data}",
            f"++output_file={out}",
            "++server.server_type=openai",
            f"++server.address='{url}'",
            "++max_retries=3",
            "++progress=false",
            *extra,
        ],
    )


def _check_every_item_once_with_its_answer(out: Path, data: Path) -> dict[str, dict]:
    records = read_jsonl(out)
    items = read_jsonl(data)
    assert sorted(r["id"] for r in records) == sorted(i["id"] for i in items)  # each once, none missing
    problems = {i["id"]: i["problem"] for i in items}
    for record in records:
        assert record["generation"] == f"Answer to: {problems[record['id']]}"
    return {r["id"]: r for r in records}


def _client_report(out: Path) -> dict:
    return json.loads(out.with_name(out.name + ".client.json").read_text())


@pytest.mark.timeout(60)
def test_reset_truncated_invalid_and_429_are_retried(tmp_path, tiny_gsm8k):
    faults = {
        "1 plus 1": ["reset"],  # the connection drops mid-response
        "2 plus 2": ["truncated"],  # 200 whose JSON is cut short
        "3 plus 3": ["invalid", "reset"],  # 200 that is not JSON, then a reset
        "4 plus 4": ["429"],  # rate limited, with Retry-After
    }
    out = tmp_path / "out.jsonl"
    with QueueServer(ServerScript(faults=faults, retry_after_s=0.2)) as server:
        result = run_generate(_cfg(server.url, tiny_gsm8k, out))
        seen = dict(server.stats.faults)
    _check_every_item_once_with_its_answer(out, tiny_gsm8k)
    assert result.generated_now == 5
    assert seen == {"reset": 2, "truncated": 1, "invalid": 1, "429": 1}
    report = _client_report(out)
    assert report["retries"] == {"connection": 2, "invalid_response": 2, "http_429": 1}
    assert (report["items_written"], report["items_failed"], report["mode"]) == (5, 0, "adaptive")


@pytest.mark.timeout(60)
def test_a_request_timeout_is_retried(tmp_path, tiny_gsm8k):
    out = tmp_path / "out.jsonl"
    with QueueServer(ServerScript(faults={"5 plus 5": ["hang"]})) as server:
        run_generate(_cfg(server.url, tiny_gsm8k, out, "++request_timeout_s=0.5"))
    _check_every_item_once_with_its_answer(out, tiny_gsm8k)
    assert _client_report(out)["retries"] == {"timeout": 1}


@pytest.mark.timeout(60)
def test_a_server_that_never_answers_fails_naming_the_items(tmp_path, tiny_gsm8k):
    out = tmp_path / "out.jsonl"
    never = ["hang"] * 10
    with QueueServer(ServerScript(faults={"2 plus 2": never, "4 plus 4": never})) as server:
        cfg = _cfg(server.url, tiny_gsm8k, out, "++request_timeout_s=0.3", "++max_retries=1")
        with pytest.raises(RequestError, match=r"2 of 5 item\(s\) failed after bounded retries: item-2, item-4"):
            run_generate(cfg)
    assert sorted(r["id"] for r in read_jsonl(out)) == ["item-1", "item-3", "item-5"]  # the others are saved
    assert not out.with_name("out.jsonl.done").exists()
    report = _client_report(out)
    assert (report["items_failed"], report["failed_ids"]) == (2, ["item-2", "item-4"])
    assert report["retries"] == {"timeout": 2}


@pytest.mark.timeout(60)
def test_the_command_line_reports_failed_items_without_a_traceback(tmp_path, tiny_gsm8k):
    out = tmp_path / "out.jsonl"
    with QueueServer(ServerScript(faults={"3 plus 3": ["truncated"] * 10})) as server:
        run = subprocess.run(
            [sys.executable, str(REPO / "pipeline" / "generate.py"), f"++input_file={tiny_gsm8k}",
             f"++output_file={out}", "++server.server_type=openai", f"++server.address='{server.url}'",
             "++max_retries=2", "++progress=false"],
            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False,
        )  # fmt: skip
    assert run.returncode == 2, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    assert "error: " in run.stderr and "1 of 5 item(s) failed after bounded retries: item-3" in run.stderr
    assert len(read_jsonl(out)) == 4


@pytest.mark.timeout(60)
def test_a_server_that_dies_mid_run_and_comes_back(tmp_path):
    data = tmp_path / "data.jsonl"
    rows = [{"id": f"item-{i}", "problem": f"What is {i} plus {i}?", "expected_answer": str(2 * i)} for i in range(60)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    script = ServerScript(latency_s=0.05, slots=8, faults={"What is 30 plus 30?": ["die"]}, down_s=1.0)
    with QueueServer(script) as server:
        run_generate(_cfg(server.url, data, out, "++max_retries=5"))
        assert server.stats.faults["die"] == 1
    _check_every_item_once_with_its_answer(out, data)
    assert _client_report(out)["retries"].get("connection", 0) >= 1


@pytest.mark.timeout(120)
def test_kill_mid_run_then_rerun_gives_every_item_once(tmp_path):
    n = 400
    data = tmp_path / "data.jsonl"
    rows = [{"id": f"item-{i}", "problem": f"What is {i} plus {i}?", "expected_answer": str(2 * i)} for i in range(n)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with QueueServer(ServerScript(latency_s=0.05, slots=8)) as server:  # about 160 items/s: a few seconds in all
        argv = [sys.executable, str(REPO / "pipeline" / "generate.py"), f"++input_file={data}", f"++output_file={out}",
                "++server.server_type=openai", f"++server.address='{server.url}'", "++progress=false"]  # fmt: skip
        stage = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not (out.exists() and out.read_text().count("\n") >= 100):  # wait for some committed items
            assert stage.poll() is None and time.monotonic() < deadline, "the stage ended or stalled before the kill"
            time.sleep(0.02)
        os.kill(stage.pid, signal.SIGKILL)
        stage.wait(timeout=10)
        text = out.read_text()
        kept = [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines()]  # a torn tail is dropped
        assert 100 <= len(kept) < n, "kill came too late to test a resume"
        result = run_generate(_cfg(server.url, data, out))
    assert result.skipped == len({r["id"] for r in kept})
    _check_every_item_once_with_its_answer(out, data)
