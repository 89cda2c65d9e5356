"""The `llamacpp-python` server type's echo fast path answers exactly what llama-cpp-python's own server answers.

Two servers of the embedded model side by side: llama-cpp-python's stock `llama_cpp.server`, with only its prefix
reuse turned off (every request from an empty KV cache, as the server type does, so both evaluate the same batches),
and the server type's own launcher, whose echoed `logprobs` come from `_echo_logprobs`. Each prompt, with
`logprobs` 1 and 10 (what our scorer and lm-eval's gguf model send), gets the same JSON from both: text, usage,
tokens, text_offset, token_logprobs and top_logprobs, floats compared as the server prints them. The prompts cover
multi-byte characters split across tokens, leading and repeated spaces and newlines. Kept short: the stock server
sorts the whole vocabulary in Python for every echoed token.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from nemo_pipeline.inference.servers import ServerSpec
from nemo_pipeline.inference.servers.llamacpp_python import launch
from nemo_pipeline.process import ManagedProcess, free_port
from tests.conftest import DEV_INSTALL, require

PROMPTS = ("The capital of France is Paris.", "Héllo wörld ✓ 日本語 🙂", "  two  spaces\n\nand a tab\tend")
LAUNCHER = "nemo_pipeline.inference.servers._llamacpp_python_main"

# llama-cpp-python's own server and echo path, every request evaluated from position 0 (the launcher's stock mode).
STOCK_SERVER = "from nemo_pipeline.inference.servers._llamacpp_python_main import serve; serve(fast_echo=False)"


def _completion(base_url: str, prompt: str, logprobs: int) -> dict[str, Any]:
    body = {"prompt": prompt, "max_tokens": 1, "temperature": 0.0, "echo": True, "logprobs": logprobs}
    request = urllib.request.Request(
        f"{base_url}/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=600) as response:
        data: dict[str, Any] = json.loads(response.read())
    for key in ("id", "created", "model"):
        data.pop(key)
    return data


def _answers(argv: list[str], base_url: str, health_url: str, log: Path) -> list[dict[str, Any]]:
    with ManagedProcess("llama-cpp-python server", argv, log) as server:
        server.wait_healthy(health_url, 300)
        return [_completion(base_url, prompt, n) for prompt in PROMPTS for n in (1, 10)]


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_fast_echo_equals_llama_cpp_pythons_own_server(tmp_path: Path) -> None:
    require("llama-cpp-python", importlib.util.find_spec("llama_cpp") is not None, f"{DEV_INSTALL} builds it")
    ours = launch(ServerSpec(model="", port=free_port(), context_length=128))
    assert list(ours.argv[:3]) == [sys.executable, "-m", LAUNCHER]
    fast = _answers(list(ours.argv), ours.base_url, ours.health_url, tmp_path / "fast.log")

    stock_launch = launch(ServerSpec(model="", port=free_port(), context_length=128))
    stock_argv = [sys.executable, "-c", STOCK_SERVER, *stock_launch.argv[3:]]
    stock = _answers(stock_argv, stock_launch.base_url, stock_launch.health_url, tmp_path / "stock.log")

    assert len(fast) == len(stock) == 2 * len(PROMPTS)
    for got, want in zip(fast, stock, strict=True):
        logprobs = want["choices"][0]["logprobs"]
        assert len(logprobs["tokens"]) > 3 and logprobs["token_logprobs"][0] is None
        assert got == want
        assert json.dumps(got) == json.dumps(want)  # every float as the server printed it
    # logprobs 10 asks for ten entries (plus the echoed token when it is not among them)
    assert max(len(top) for top in stock[1]["choices"][0]["logprobs"]["top_logprobs"][1:]) >= 10
