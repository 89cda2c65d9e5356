"""A NeMo / Megatron checkpoint served in-framework by Export-Deploy (PyTriton + an OpenAI-compatible FastAPI).

Runs `deploy_inframework_triton.py` from the NeMo container (`/opt/Export-Deploy`). Importing this module needs
no nemo: it only renders the launch argv.
"""

from __future__ import annotations

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.inference.servers._base import (
    ServerLaunch,
    ServerSpec,
    ServerType,
    parallel_request_slots,
    register_server_type,
)

__all__ = ["DEFAULT_IMAGE", "DEPLOY_SCRIPT", "NEMO", "launch"]

DEFAULT_IMAGE = "nvcr.io/nvidia/nemo:25.09"
DEPLOY_SCRIPT = "/opt/Export-Deploy/scripts/deploy/nlp/deploy_inframework_triton.py"


def launch(spec: ServerSpec) -> ServerLaunch:
    """Serve a NeMo checkpoint on `gpus` GPUs (tensor parallel x pipeline parallel) behind /v1/completions."""
    if not spec.model:
        raise ConfigError("server type 'nemo' needs a checkpoint directory; set server.model")
    replicas = spec.replicas("nemo")
    argv = [
        "python3", DEPLOY_SCRIPT,
        "--nemo_checkpoint", spec.model,
        "--triton_model_name", "megatron_model",
        "--server_address", spec.host,
        "--server_port", str(spec.port),
        "--num_gpus", str(replicas * spec.tensor_parallel),
        "--tensor_model_parallel_size", str(spec.tensor_parallel),
        "--pipeline_model_parallel_size", str(replicas),
        "--max_batch_size", str(spec.parallel_requests),
        "--inference_max_seq_length", str(spec.context_length),
        *spec.extra_args,
    ]  # fmt: skip
    base = f"http://{spec.host}:{spec.port}"
    return ServerLaunch(argv=tuple(argv), base_url=f"{base}/v1", health_url=f"{base}/v1/health", image=DEFAULT_IMAGE)


NEMO = register_server_type(
    ServerType(
        name="nemo",
        launch=launch,
        slots=parallel_request_slots,
        supports_completions=True,
        description="NeMo checkpoint via Export-Deploy (GPU)",
        guess_s_per_item=0.1,
        local_module="nemo",
        install_hint="It ships in the NeMo framework container: run on a cluster with that image "
        "(dockerfiles/Dockerfile.nemo).",
    )
)
