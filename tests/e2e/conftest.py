"""End-to-end fixtures: the real embedded llama-server, optionally behind a proxy that logs every request."""

from __future__ import annotations

import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

# Modules whose runs start the code sandbox (bubblewrap isolation) besides the embedded model.
SANDBOX_MODULES = {"test_all_benchmarks_e2e", "test_code_execution_e2e"}


@pytest.fixture(autouse=True)
def _real_components(request: pytest.FixtureRequest, embedded_model: tuple[str, str]) -> None:
    """Every end-to-end test runs the embedded llama-server; some the sandbox too (fail under CI, else skip)."""
    if request.node.module.__name__.rsplit(".", 1)[-1] in SANDBOX_MODULES:
        request.getfixturevalue("sandbox_isolation")


@dataclass(frozen=True)
class RequestLog:
    """The POST bodies the counting proxy saw, one JSON object a line."""

    path: Path

    def requests(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def asking(self, text: str) -> int:
        """How many logged requests carry `text` in a string of their body (the prompt or a message)."""
        return sum(any(text in s for s in _strings(entry["body"])) for entry in self.requests())


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.fixture
def counting_llama(
    tmp_path: Path, embedded_model: tuple[str, str], env_with_repo: dict[str, str]
) -> tuple[dict[str, str], RequestLog]:
    """(env, log): with `env`, the llama-server eval.py starts sits behind a proxy that logs each request to `log`."""
    wrapper = tmp_path / "llama-server-counting"
    script = REPO / "tests" / "e2e" / "counting_llama_server.py"
    wrapper.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(script))} "$@"\n')
    wrapper.chmod(0o755)
    log = RequestLog(tmp_path / "requests.jsonl")
    env = {
        **env_with_repo,
        "LLAMA_SERVER_BIN": str(wrapper),
        "REAL_LLAMA_SERVER_BIN": embedded_model[0],
        "COUNTING_PROXY_LOG": str(log.path),
    }
    return env, log
