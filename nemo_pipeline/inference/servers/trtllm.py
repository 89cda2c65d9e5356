"""TensorRT-LLM's OpenAI-compatible server (`trtllm-serve`, PyTorch backend); GPU only.

Importing this module needs no tensorrt_llm: it only renders the launch argv.
"""

from __future__ import annotations

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.inference.servers._base import ServerLaunch, ServerSpec, ServerType, register_server_type

__all__ = ["DEFAULT_IMAGE", "TRTLLM", "launch"]

DEFAULT_IMAGE = "nvcr.io/nvidia/tensorrt-llm/release:1.0.0"


def launch(spec: ServerSpec) -> ServerLaunch:
    """`trtllm-serve MODEL --backend pytorch --tp_size N`; all of the server's GPUs form one tensor-parallel group."""
    if not spec.model:
        raise ConfigError("server type 'trtllm' needs a model (a checkpoint path or engine dir); set server.model")
    if spec.gpus not in (0, spec.tensor_parallel):
        raise ConfigError(
            f"server type 'trtllm' runs one tensor-parallel group: gpus={spec.gpus} must equal "
            f"tensor_parallel={spec.tensor_parallel}; set tensor_parallel={spec.gpus}"
        )
    argv = [
        "trtllm-serve", spec.model,
        "--host", spec.host,
        "--port", str(spec.port),
        "--backend", "pytorch",
        "--tp_size", str(spec.tensor_parallel),
        "--max_seq_len", str(spec.context_length),
        *spec.extra_args,
    ]  # fmt: skip
    base = f"http://{spec.host}:{spec.port}"
    return ServerLaunch(argv=tuple(argv), base_url=f"{base}/v1", health_url=f"{base}/health", image=DEFAULT_IMAGE)


TRTLLM = register_server_type(
    ServerType(
        name="trtllm",
        launch=launch,
        description="TensorRT-LLM (GPU)",
        guess_s_per_item=0.05,
        local_module="tensorrt_llm",
        install_hint='Install it with: pip install "nemo-pipeline[trtllm]" (GPU), or run on a cluster in its image '
        "(dockerfiles/Dockerfile.trtllm).",
    )
)
