"""vLLM's OpenAI-compatible server (`vllm serve`); GPU only, usually in its container image on a cluster.

Importing this module needs no vllm: it only renders the launch argv.
"""

from __future__ import annotations

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.inference.servers._base import ServerLaunch, ServerSpec, ServerType, register_server_type

__all__ = ["DEFAULT_IMAGE", "VLLM", "launch"]

DEFAULT_IMAGE = "vllm/vllm-openai:v0.10.2"


def launch(spec: ServerSpec) -> ServerLaunch:
    """`vllm serve MODEL`: tensor parallel over `tensor_parallel` GPUs, data parallel over the rest."""
    if not spec.model:
        raise ConfigError("server type 'vllm' needs a model (a path or a Hugging Face name); set server.model")
    replicas = spec.replicas("vllm")
    argv = [
        "vllm", "serve", spec.model,
        "--host", spec.host,
        "--port", str(spec.port),
        "--tensor-parallel-size", str(spec.tensor_parallel),
    ]  # fmt: skip
    if replicas > 1:
        argv += ["--data-parallel-size", str(replicas)]
    argv += ["--max-model-len", str(spec.context_length), *spec.extra_args]
    base = f"http://{spec.host}:{spec.port}"
    return ServerLaunch(argv=tuple(argv), base_url=f"{base}/v1", health_url=f"{base}/health", image=DEFAULT_IMAGE)


VLLM = register_server_type(
    ServerType(
        name="vllm",
        default_port=5000,
        supports_loglikelihood=True,
        launch=launch,
        health_path="/health",
        needs_continue_flag=True,
        local_module="vllm",
        install_hint='Install it with: pip install "nemo-pipeline[vllm]" (GPU), or run on a cluster in its image.',
        description="vLLM (GPU)",
    )
)
