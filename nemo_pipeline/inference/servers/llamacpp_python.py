"""llama-cpp-python's OpenAI-compatible server (`python -m llama_cpp.server`): serves a GGUF on CPU or GPU and, unlike
llama.cpp's own llama-server, returns prompt log-probabilities (`echo` + `logprobs` on /v1/completions), so it can
score log-likelihood benchmarks on the embedded model. It serves one request at a time, each from an empty KV cache
(see `_llamacpp_python_main`).

Needs `llama-cpp-python[server]` (the `[loglik]` extra; it builds from source, about 6 minutes on 2 cores).
"""

from __future__ import annotations

import sys

from nemo_pipeline.inference.servers._base import ServerLaunch, ServerSpec, ServerType, register_server_type
from nemo_pipeline.inference.servers.llamacpp import default_model_path

__all__ = ["LLAMACPP_PYTHON", "launch"]


def _one_at_a_time(parallel_requests: int) -> int:
    return 1  # llama-cpp-python's server answers one request at a time, whatever is asked


def launch(spec: ServerSpec) -> ServerLaunch:
    """llama-cpp-python's server (`llama_cpp.server`'s arguments) with every position's logits kept (prompt
    log-probabilities) and every request evaluated from an empty KV cache (`_llamacpp_python_main`), so a prompt's
    log-probabilities do not depend on the requests served before it."""
    model = spec.model or default_model_path()
    # The embedded GGUF is a base model without a chat template: use Gemma's own turn format for chat requests.
    chat = () if spec.model else ("--chat_format", "gemma")
    argv = [
        sys.executable, "-m", "nemo_pipeline.inference.servers._llamacpp_python_main",
        "--model", model,
        "--host", spec.host,
        "--port", str(spec.port),
        "--n_ctx", str(spec.context_length),
        "--n_gpu_layers", "-1" if spec.gpus > 0 else "0",
        "--logits_all", "true",
        *chat,
        *spec.extra_args,
    ]  # fmt: skip
    base = f"http://{spec.host}:{spec.port}"
    return ServerLaunch(argv=tuple(argv), base_url=f"{base}/v1", health_url=f"{base}/v1/models")


LLAMACPP_PYTHON = register_server_type(
    ServerType(
        name="llamacpp-python",
        launch=launch,
        slots=_one_at_a_time,
        supports_loglikelihood=True,
        local_module="llama_cpp",
        install_hint='Install it with: pip install "nemo-pipeline[loglik]" (builds llama-cpp-python from source).',
        description="llama-cpp-python's server (CPU or GPU); scores log-likelihood benchmarks on the embedded model",
        guess_s_per_item=4.0,  # one request at a time
    )
)
