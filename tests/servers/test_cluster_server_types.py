"""Launch argv of the cluster server types (vllm, trtllm, nemo, sglang); none of their packages is imported."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.inference.servers import SERVER_TYPES, ServerSpec

SPEC = ServerSpec(model="/models/Qwen3-8B", port=5000, host="127.0.0.1", gpus=8, tensor_parallel=4,
                  parallel_requests=64, context_length=32768, extra_args=("--seed", "1"))  # fmt: skip

# vLLM runs under this interpreter when it is installed here, else under the image's python3 (test_vllm_argv.py).
VLLM_PYTHON = sys.executable if importlib.util.find_spec("vllm") is not None else "python3"

CASES = {
    "vllm": (
        [VLLM_PYTHON, "-m", "vllm.entrypoints.openai.api_server", "--model", "/models/Qwen3-8B", "--host",
         "127.0.0.1", "--port", "5000",
         "--tensor-parallel-size", "4", "--data-parallel-size", "2", "--max-model-len", "32768", "--seed", "1"],
        "http://127.0.0.1:5000/health",
        "vllm/vllm-openai:",
    ),
    "sglang": (
        ["python3", "-m", "sglang.launch_server", "--model-path", "/models/Qwen3-8B", "--host", "127.0.0.1",
         "--port", "5000", "--tp-size", "4", "--dp-size", "2", "--context-length", "32768", "--seed", "1"],
        "http://127.0.0.1:5000/health",
        "lmsysorg/sglang:",
    ),
    "nemo": (
        ["python3", "/opt/Export-Deploy/scripts/deploy/nlp/deploy_inframework_triton.py",
         "--nemo_checkpoint", "/models/Qwen3-8B", "--triton_model_name", "megatron_model",
         "--server_address", "127.0.0.1", "--server_port", "5000", "--num_gpus", "8",
         "--tensor_model_parallel_size", "4", "--pipeline_model_parallel_size", "2", "--max_batch_size", "64",
         "--inference_max_seq_length", "32768", "--seed", "1"],
        "http://127.0.0.1:5000/v1/health",
        "nvcr.io/nvidia/nemo:",
    ),
}  # fmt: skip


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", sorted(CASES))
def test_launch_argv(name: str) -> None:
    argv, health, image_prefix = CASES[name]
    server_type = SERVER_TYPES.get(name)
    assert server_type.launch is not None
    launch = server_type.launch(SPEC)
    assert list(launch.argv) == argv
    assert launch.health_url == health
    assert launch.base_url == "http://127.0.0.1:5000/v1"
    assert launch.image is not None and launch.image.startswith(image_prefix)


@pytest.mark.timeout(10)
def test_trtllm_argv_and_single_group() -> None:
    trtllm = SERVER_TYPES.get("trtllm")
    assert trtllm.launch is not None
    spec = ServerSpec(model="/ckpt", port=6001, host="0.0.0.0", gpus=4, tensor_parallel=4, context_length=8192)
    launch = trtllm.launch(spec)
    assert list(launch.argv) == [
        "trtllm-serve", "/ckpt", "--host", "0.0.0.0", "--port", "6001", "--backend", "pytorch",
        "--tp_size", "4", "--max_seq_len", "8192",
    ]  # fmt: skip
    assert launch.health_url == "http://0.0.0.0:6001/health"
    assert launch.image == "nvcr.io/nvidia/tensorrt-llm/release:1.0.0"
    with pytest.raises(ConfigError, match="set tensor_parallel=8"):
        trtllm.launch(ServerSpec(model="/ckpt", port=1, gpus=8, tensor_parallel=4))


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", ["vllm", "sglang", "nemo"])
def test_single_gpu_has_no_data_parallel_flag(name: str) -> None:
    launch = SERVER_TYPES.get(name).launch(ServerSpec(model="m", port=5000, gpus=1))  # type: ignore[misc]
    assert not {"--data-parallel-size", "--dp-size"} & set(launch.argv)
    if name == "nemo":
        assert launch.argv[launch.argv.index("--num_gpus") + 1] == "1"


@pytest.mark.timeout(10)
@pytest.mark.parametrize("name", ["vllm", "sglang", "nemo", "trtllm"])
def test_errors_name_the_problem(name: str) -> None:
    launch = SERVER_TYPES.get(name).launch
    assert launch is not None
    if name != "vllm":  # vllm with no model serves the embedded one (tests/servers/test_vllm_argv.py)
        with pytest.raises(ConfigError, match=f"server type '{name}' needs"):
            launch(ServerSpec(model="", port=5000))
    with pytest.raises(ConfigError, match="tensor_parallel=4"):
        launch(ServerSpec(model="m", port=5000, gpus=6, tensor_parallel=4))


@pytest.mark.timeout(60)
def test_import_needs_none_of_the_engines() -> None:
    code = (
        "import sys\n"
        "for blocked in ('vllm', 'sglang', 'tensorrt_llm', 'nemo', 'torch'):\n"
        "    sys.modules[blocked] = None  # any import of them now raises ImportError\n"
        "from nemo_pipeline.inference.servers import vllm, trtllm, nemo, sglang, SERVER_TYPES\n"
        "assert {'vllm', 'trtllm', 'nemo', 'sglang'} <= set(SERVER_TYPES.names())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
