"""SGLang's OpenAI-compatible server (`python3 -m sglang.launch_server`); GPU only.

Importing this module needs no sglang: it only renders the launch argv.
"""

from __future__ import annotations

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.inference.servers._base import ServerLaunch, ServerSpec, ServerType, register_server_type

__all__ = ["DEFAULT_IMAGE", "SGLANG", "launch"]

DEFAULT_IMAGE = "lmsysorg/sglang:v0.5.2-cu126"


def launch(spec: ServerSpec) -> ServerLaunch:
    """`sglang.launch_server`: tensor parallel over `tensor_parallel` GPUs, data parallel over the rest."""
    if not spec.model:
        raise ConfigError("server type 'sglang' needs a model (a path or a Hugging Face name); set server.model")
    replicas = spec.replicas("sglang")
    argv = [
        "python3", "-m", "sglang.launch_server",
        "--model-path", spec.model,
        "--host", spec.host,
        "--port", str(spec.port),
        "--tp-size", str(spec.tensor_parallel),
    ]  # fmt: skip
    if replicas > 1:
        argv += ["--dp-size", str(replicas)]
    argv += ["--context-length", str(spec.context_length), *spec.extra_args]
    base = f"http://{spec.host}:{spec.port}"
    return ServerLaunch(argv=tuple(argv), base_url=f"{base}/v1", health_url=f"{base}/health", image=DEFAULT_IMAGE)


SGLANG = register_server_type(
    ServerType(
        name="sglang",
        supports_loglikelihood=True,
        launch=launch,
        needs_continue_flag=True,
        local_module="sglang",
        install_hint='Install it with: pip install "nemo-pipeline[sglang]" (GPU), or run on a cluster in its image.',
        description="SGLang (GPU)",
        guess_s_per_item=0.05,
    )
)
