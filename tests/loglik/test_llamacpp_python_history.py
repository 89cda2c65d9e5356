"""The llamacpp-python server type scores a prompt the same whatever it served before.

llama-cpp-python reuses the KV cache of the longest prefix shared with the previous request; evaluated in another
batch shape, those positions make the same prompt's log-probabilities differ in the third decimal, so two servers
that saw requests in different orders disagreed (the lm-eval equality test failed on fresh machines). The server
type starts every request from an empty cache: the same prompt gives bit-identical log-probabilities after any
history. Kept short: llama-cpp-python's echo path is slow (about 1 s per echoed token here).
"""

from __future__ import annotations

import importlib.util
import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from nemo_pipeline.config import ServerConfig
from nemo_pipeline.inference._server_context import serving
from tests.conftest import DEV_INSTALL, require

CONTEXT = "The capital of France is"
TARGET = CONTEXT + " Paris."
OTHER = CONTEXT + " a city."  # shares the context with TARGET: the prefix llama-cpp-python would reuse


def _echo(base_url: str, prompt: str) -> list[float]:
    body = {"prompt": prompt, "max_tokens": 1, "temperature": 0.0, "echo": True, "logprobs": 1}
    request = urllib.request.Request(
        f"{base_url}/completions", json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        data: dict[str, Any] = json.loads(response.read())
    values = data["choices"][0]["logprobs"]["token_logprobs"]
    return [float("nan") if v is None else float(v) for v in values[:-1]]  # the last one was generated


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_same_prompt_scores_the_same_after_any_history(tmp_path: Path) -> None:
    require("llama-cpp-python", importlib.util.find_spec("llama_cpp") is not None, f"{DEV_INSTALL} builds it")
    with serving(ServerConfig(server_type="llamacpp-python", context_length=128), tmp_path / "logs") as endpoint:
        first = _echo(endpoint.base_url, TARGET)  # from an empty cache
        _echo(endpoint.base_url, OTHER)  # leaves the shared context in the cache
        after_prefix = _echo(endpoint.base_url, TARGET)
        _echo(endpoint.base_url, "Unrelated words first.")  # leaves a different history
        after_other = _echo(endpoint.base_url, TARGET)
    assert len(first) > len(CONTEXT.split())
    # Exact: the same tokens evaluated in the same batch from position 0 (repr shows any difference in full).
    assert repr(after_prefix) == repr(first)
    assert repr(after_other) == repr(first)
