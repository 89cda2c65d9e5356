"""The generate stage against a scripted OpenAI-compatible server (fast; the e2e tests use real llama.cpp)."""

import json

import pytest

from nemo_pipeline.config import GenerateConfig, compose_config
from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.inference import run_generate
from nemo_pipeline.jsonl import read_jsonl
from tests.fakes.openai_server import Script, ScriptedServer


def _cfg(server_url, data, out, *extra):
    return compose_config(
        GenerateConfig,
        "generate",
        [
            f"++input_file={data}",
            f"++output_file={out}",
            "++server.server_type=openai",
            f"++server.address='{server_url}'",
            "++max_retries=3",
            "++progress=false",
            *extra,
        ],
    )


@pytest.mark.timeout(60)
def test_generates_every_item_once(tmp_path, tiny_gsm8k):
    with ScriptedServer(Script(answers={"3 plus 3": "3 + 3 = 6. The answer is 6."})) as server:
        result = run_generate(_cfg(server.url, tiny_gsm8k, tmp_path / "out.jsonl"))
        records = read_jsonl(tmp_path / "out.jsonl")
        prompts = [r["prompt"] for r in server.script.requests]
    assert result.generated_now == 5
    assert sorted(r["id"] for r in records) == [f"item-{i}" for i in range(1, 6)]
    by_id = {r["id"]: r for r in records}
    assert by_id["item-3"]["generation"] == "3 + 3 = 6. The answer is 6."
    assert by_id["item-3"]["num_generated_tokens"] == 9  # the scripted server counts words
    assert all("Question: What is" in p for p in prompts)  # the few-shot completion prompt was used
    assert json.loads((tmp_path / "out.jsonl.done").read_text())["max_samples"] == -1


@pytest.mark.timeout(60)
def test_transient_errors_are_retried(tmp_path, tiny_gsm8k):
    with ScriptedServer(Script(fail_first=3)) as server:
        run_generate(_cfg(server.url, tiny_gsm8k, tmp_path / "out.jsonl", "++max_concurrent_requests=1"))
        assert len(server.script.requests) == 5 + 3
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 5


@pytest.mark.timeout(60)
def test_resume_skips_finished_items(tmp_path, tiny_gsm8k):
    out = tmp_path / "out.jsonl"
    first = read_jsonl(tiny_gsm8k)[:2]
    out.write_text("".join(json.dumps({**r, "generation": "old"}) + "\n" for r in first) + '{"id": "item-3", "gen')
    with ScriptedServer(Script()) as server:
        result = run_generate(_cfg(server.url, tiny_gsm8k, out))
        asked = len(server.script.requests)
    records = read_jsonl(out)
    assert (result.generated_now, result.skipped, asked) == (3, 2, 3)
    assert sorted(r["id"] for r in records) == [f"item-{i}" for i in range(1, 6)]
    assert [r["generation"] for r in records[:2]] == ["old", "old"]


@pytest.mark.timeout(60)
def test_corrupt_output_line_is_reported_not_dropped(tmp_path, tiny_gsm8k):
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "item-1", "generation": "x"}\nnot json\n{"id": "item-2"}\n')
    with ScriptedServer(Script()) as server, pytest.raises(DataError, match=r"out\.jsonl:2"):
        run_generate(_cfg(server.url, tiny_gsm8k, out))
    assert "not json" in out.read_text()


@pytest.mark.timeout(60)
def test_max_samples_and_chunks_select_items(tmp_path, tiny_gsm8k):
    with ScriptedServer(Script()) as server:
        run_generate(
            _cfg(server.url, tiny_gsm8k, tmp_path / "c1.jsonl", "++max_samples=4", "++num_chunks=2", "++chunk_id=1")
        )
    assert sorted(r["id"] for r in read_jsonl(tmp_path / "c1.jsonl")) == ["item-3", "item-4"]


@pytest.mark.timeout(30)
def test_unreachable_address_fails_before_generating(tmp_path, tiny_gsm8k):
    cfg = _cfg("http://127.0.0.1:9/v1", tiny_gsm8k, tmp_path / "out.jsonl", "++server.start_timeout_s=2")
    with pytest.raises(ConfigError, match="unreachable"):
        run_generate(cfg)
    assert not (tmp_path / "out.jsonl").exists() or (tmp_path / "out.jsonl").read_text() == ""


@pytest.mark.timeout(60)
def test_the_stage_by_hand_refuses_to_mix_settings_into_one_file(tmp_path, tiny_gsm8k):
    out = tmp_path / "out.jsonl"
    with ScriptedServer(Script()) as server:
        run_generate(_cfg(server.url, tiny_gsm8k, out, "++max_samples=2"))
        with pytest.raises(ConfigError, match=r"prompt_config: 'generic/math-fewshot' -> 'generic/math'"):
            run_generate(_cfg(server.url, tiny_gsm8k, out, "++max_samples=4", "++prompt_config=generic/math"))
        assert len(server.script.requests) == 2
