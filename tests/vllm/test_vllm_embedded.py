"""The embedded Gemma 3 270M on a real vLLM server (its CPU build here), started by `--server_type vllm` with no
model: the folder converted from the project's GGUF tokenizes every prompt exactly as llama.cpp does with the GGUF,
and every path of the pipeline runs through it: completion and chat prompts, a code benchmark graded in the
sandbox, code execution during generation (continue_final_message), an MT-Bench judge served by vLLM, and every
log-likelihood benchmark. The model's answers are noise; the tests check the paths and the scores' integrity."""

from __future__ import annotations

import asyncio
import json
import math
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nemo_pipeline.config import ServerConfig
from nemo_pipeline.datasets import BENCHMARKS
from nemo_pipeline.datasets._source import UserFile
from nemo_pipeline.evaluation.metrics import is_grader_error
from nemo_pipeline.inference._server_context import serving
from nemo_pipeline.inference.client import OpenAIClient
from nemo_pipeline.inference.code_execution import _ContinueParams
from nemo_pipeline.inference.servers._embedded_vllm import MANIFEST, _problem
from nemo_pipeline.jsonl import read_jsonl, write_jsonl_atomic
from nemo_pipeline.loglik import requests_of
from tests.datasets.conftest import FIXTURES
from tests.vllm.conftest import EmbeddedVllm, benchmark_metrics, run_eval

ITEMS = 2
LOGLIK = sorted(name for name in BENCHMARKS.names() if BENCHMARKS.get(name).grader == "loglik")
CHAT = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is 2+3?"},
    {"role": "assistant", "content": "5"},
    {"role": "user", "content": "  And 4 × 4?\n"},
]
TEXTS = ["The capital of France is", "  leading spaces, € and ü\n\nnew lines", "<start_of_turn>user\nhi"]


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as answer:
        return json.loads(answer.read())


def _tokenizer(server: EmbeddedVllm) -> Callable[[str], list[int]]:
    """The server's own tokenization of a text (BOS included)."""
    url = f"{_root(server.base_url)}/tokenize"
    return lambda text: _post(url, {"model": server.model, "prompt": text})["tokens"]


def _root(base_url: str) -> str:
    return base_url.removesuffix("/v1")


def test_the_converted_folder_tokenizes_as_llamacpp_does_with_the_gguf(
    embedded_vllm: EmbeddedVllm, embedded_model: tuple[str, str], tmp_path: Path
) -> None:
    vllm = _root(embedded_vllm.base_url)
    with serving(ServerConfig(server_type="llamacpp", start_timeout_s=300), tmp_path) as llama:
        llama_root = _root(llama.base_url)
        # Completion prompts: both add the BOS token, and split the text into the same tokens.
        for text in TEXTS:
            ours = _post(f"{vllm}/tokenize", {"model": embedded_vllm.model, "prompt": text})["tokens"]
            theirs = _post(f"{llama_root}/tokenize", {"content": text, "add_special": True})["tokens"]
            assert ours == theirs, text
            assert ours[0] == 2  # <bos>
        # Chat prompts: the folder's template renders what llama.cpp's built-in gemma template does.
        for messages in (CHAT, CHAT[1:2]):
            ours = _post(
                f"{vllm}/tokenize", {"model": embedded_vllm.model, "messages": messages, "add_generation_prompt": True}
            )["tokens"]
            prompt = _post(f"{llama_root}/apply-template", {"messages": messages})["prompt"]
            theirs = _post(f"{llama_root}/tokenize", {"content": prompt, "add_special": True, "parse_special": True})
            assert ours == theirs["tokens"], prompt


def test_the_prepared_folder_is_checked_by_its_manifest(embedded_vllm: EmbeddedVllm, tmp_path: Path) -> None:
    folder = Path(embedded_vllm.model)
    manifest = json.loads((folder / MANIFEST).read_text())
    assert set(manifest["files"]) >= {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"}
    assert _problem(folder, manifest["source_sha256"]) is None
    assert _problem(folder, "0" * 64) == "made from another GGUF or by another converter"
    # A copy with one file altered is not accepted (and would be converted again).
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("config.json", "tokenizer_config.json", MANIFEST):
        (copy / name).write_bytes((folder / name).read_bytes())
    kept = ("config.json", "tokenizer_config.json")
    small = {**manifest, "files": {k: v for k, v in manifest["files"].items() if k in kept}}
    (copy / MANIFEST).write_text(json.dumps(small))
    assert _problem(copy, manifest["source_sha256"]) is None
    (copy / "config.json").write_text("{}")
    assert _problem(copy, manifest["source_sha256"]) == "config.json is missing or altered"


def _loglik_benchmarks(work: Path) -> list[str]:
    """Every log-likelihood benchmark as an --benchmarks entry: those with an offline source by name, those whose
    data a user provides as a file-defined benchmark holding the items their own loader makes from the
    official-format fixture (the registered one insists on the complete official file)."""
    entries = []
    for name in LOGLIK:
        bench = BENCHMARKS.get(name)
        if bench.source.kind != "user-file":
            entries.append(f"{name}:0")
            continue
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(UserFile, "target_dir", lambda self, name=name: FIXTURES / name)
            items = bench.load(bench.source)
        write_jsonl_atomic(work / f"{name}.jsonl", items)
        definition = {"name": f"{name}-fixture", "description": f"{name} fixture rows", "data": f"{name}.jsonl",
                      "license": "-", "grader": "loglik", "prompt_config": bench.prompt_config, "tokens_to_generate": 1,
                      "fields": {k: k for k in ("id", "problem", "expected_answer", "loglik")}}  # fmt: skip
        (work / f"{name}.yaml").write_text(yaml.safe_dump(definition))
        entries.append(f"{work / name}.yaml:0")
    return entries


def _count(log: Path, needle: str) -> int:
    return log.read_text(errors="replace").count(needle)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_every_path_runs_through_the_embedded_model_on_vllm(
    embedded_vllm: EmbeddedVllm, tmp_path: Path, env_with_repo: dict[str, str]
) -> None:
    out = tmp_path / "out"
    loglik = _loglik_benchmarks(tmp_path)
    benchmarks = ["gsm8k:0", "ifeval:0", "humaneval:0", "mt-bench:0", *loglik]
    chats_before = _count(embedded_vllm.log, "POST /v1/chat/completions")
    done = run_eval(
        out, env_with_repo, "--benchmarks", ",".join(benchmarks), "--server_type", "vllm",
        "--server_address", embedded_vllm.base_url, f"++max_samples={ITEMS}", "++inference.tokens_to_generate=48",
        "++judge.server.server_type=vllm", f"++judge.server.address={embedded_vllm.base_url}",
        "++judge.tokens_to_generate=24",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    names = [Path(entry.rsplit(":", 1)[0]).name.replace(".yaml", "-fixture") for entry in benchmarks]
    for name in names:
        assert benchmark_metrics(out, name)["num_entries"] == ITEMS, name
        records = read_jsonl(out / "eval-results" / name / "output.jsonl")
        assert len(records) == ITEMS and not [r for r in records if is_grader_error(r["grading_reason"])], name
    # Completion prompts (gsm8k) and chat prompts (ifeval, mt-bench) were generated by the model.
    for name in ("gsm8k", "ifeval", "humaneval"):
        assert all(r["generation"] for r in read_jsonl(out / "eval-results" / name / "output.jsonl")), name
    # HumanEval's programs ran in the sandbox: each has a verdict from it.
    assert all(
        isinstance(r["is_correct"], bool) for r in read_jsonl(out / "eval-results" / "humaneval" / "output.jsonl")
    )
    # The judge was the vLLM server: two turns of each item, judged once each, over chat completions.
    mt = read_jsonl(out / "eval-results" / "mt-bench" / "output.jsonl")
    assert all(len(r["judge_generation"]) == 2 for r in mt)
    assert _count(embedded_vllm.log, "POST /v1/chat/completions") - chats_before >= 2 * ITEMS * 2
    # Log-likelihood: every choice was scored on exactly its continuation's tokens, as many as the server's own
    # tokenizer gives the continuation after its context (a window shifted by the BOS text, as vLLM's text_offset
    # would give, scores other tokens), and each score is a finite log-probability.
    tokens = _tokenizer(embedded_vllm)
    for name in names[4:]:
        for record in read_jsonl(out / "eval-results" / name / "output.jsonl"):
            expected = [len(tokens(r.context + r.continuation)) - len(tokens(r.context)) for r in requests_of(record)]
            assert record["continuation_tokens"] == expected, name
            assert all(math.isfinite(s) and s < 0 for s in record["loglikelihoods"]), (name, record["loglikelihoods"])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_code_execution_during_generation_on_vllm(
    embedded_vllm: EmbeddedVllm, tmp_path: Path, env_with_repo: dict[str, str]
) -> None:
    out = tmp_path / "out"
    done = run_eval(
        out, env_with_repo, "--benchmarks", "gsm8k:0", "--server_type", "vllm",
        "--server_address", embedded_vllm.base_url, "++max_samples=4", "++code_execution=true",
        "++prompt_config=generic/math-code-fewshot", "++inference.tokens_to_generate=200", timeout=840,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    records = read_jsonl(out / "eval-results" / "gsm8k" / "output.jsonl")
    executions = [e for r in records for e in r["code_executions"]]
    assert executions, "the model wrote no python block on any item"
    for record in records:
        for execution in record["code_executions"]:
            # What follows the block is what the sandbox printed, and the model went on after it.
            block = f"```python\n{execution['code']}"
            after = record["generation"].split(block, 1)[1]
            shown = execution["stdout"] + execution["stderr"]
            assert after.startswith("```\n```output\n" + shown.rstrip("\n")), after[:200]


def test_a_chat_continuation_on_vllm_continues_the_final_message(embedded_vllm: EmbeddedVllm) -> None:
    """What code execution sends after a block ran in chat mode (the conversation with the model's turn so far,
    `continue_final_message`): vLLM continues that turn exactly as a raw completion of the rendered prompt."""
    partial = "Let me compute it.\n```python\nprint(6 * 7)\n```\n```output\n42\n```\nSo the answer is"
    messages = [*CHAT[1:2], {"role": "assistant", "content": partial}]
    params = _ContinueParams(temperature=0.0, top_p=1.0, top_k=0, max_tokens=12, seed=0)

    async def continued() -> str:
        client = OpenAIClient(embedded_vllm.base_url, embedded_vllm.model, max_connections=1)
        try:
            return (await client.chat(messages, params)).text
        finally:
            await client.aclose()

    root = _root(embedded_vllm.base_url)
    rendered = _post(
        f"{root}/tokenize",
        {"model": embedded_vllm.model, "messages": messages, "continue_final_message": True,
         "add_generation_prompt": False},
    )["tokens"]  # fmt: skip
    # The rendered prompt ends inside the model's turn: with the partial answer's tokens, not an end of turn.
    tail = _post(f"{root}/tokenize", {"model": embedded_vllm.model, "prompt": partial, "add_special_tokens": False})
    assert rendered[-len(tail["tokens"]) :] == tail["tokens"]
    raw = _post(
        f"{embedded_vllm.base_url}/completions",
        {"model": embedded_vllm.model, "prompt": rendered, "max_tokens": 12, "temperature": 0.0, "seed": 0},
    )["choices"][0]["text"]
    assert asyncio.run(asyncio.wait_for(continued(), 120)) == raw
