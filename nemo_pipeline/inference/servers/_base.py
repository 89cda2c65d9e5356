"""The server-type interface: how to launch one kind of model server and how to tell it is healthy."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.registry import Registry

__all__ = ["SERVER_TYPES", "ServerLaunch", "ServerSpec", "ServerType", "parallel_request_slots", "register_server_type"]


def parallel_request_slots(parallel_requests: int) -> int:
    """`ServerType.slots` of a server that works on exactly `parallel_requests` requests at once."""
    return parallel_requests


@dataclass(frozen=True)
class ServerSpec:
    """What the user asked for: which model, where, on how many GPUs."""

    model: str  # a path or a model name; "" lets a type pick its embedded default
    port: int | str  # a number, or a cluster job's port placeholder that the job fills when it starts (jobs.ports)
    host: str = "127.0.0.1"
    gpus: int = 0
    tensor_parallel: int = 1
    parallel_requests: int = 4
    context_length: int = 4096
    extra_args: tuple[str, ...] = ()
    # None: the server starts on this machine now, so a type may put this machine's paths in its argv. Set for a
    # server rendered into a cluster job: the interpreter (with this package) that runs where the job runs, for a
    # type that finds its binary or model there (llamacpp's launcher).
    launcher_python: str | None = None

    def replicas(self, server_type: str) -> int:
        """How many copies of the model the GPUs hold (GPUs / tensor_parallel, at least one group); ConfigError
        when the GPUs do not split into whole tensor-parallel groups."""
        gpus = max(self.gpus, self.tensor_parallel)
        if gpus % self.tensor_parallel:
            raise ConfigError(
                f"server type '{server_type}': gpus={self.gpus} is not a multiple of "
                f"tensor_parallel={self.tensor_parallel}"
            )
        return gpus // self.tensor_parallel


@dataclass(frozen=True)
class ServerLaunch:
    """How to start a server: an argv (never a shell string), its environment additions and where it answers."""

    argv: tuple[str, ...]
    base_url: str  # OpenAI-compatible root, e.g. http://127.0.0.1:5000/v1
    health_url: str  # answers 2xx once the server can take requests (the one statement of a type's health path)
    env: dict[str, str] = field(default_factory=dict)
    image: str | None = None  # default container image on clusters


@dataclass(frozen=True)
class ServerType:
    """A registered kind of server. `launch` is None for remote servers (nothing to start)."""

    name: str
    launch: Callable[[ServerSpec], ServerLaunch] | None
    supports_completions: bool = True
    # Whether `/v1/completions` returns prompt log-probabilities (`echo` + `logprobs`), which log-likelihood
    # benchmarks need (llama.cpp's llama-server refuses `echo`).
    supports_loglikelihood: bool = False
    # Whether a chat request ending in an assistant message must say `continue_final_message` for the server to
    # continue it (vLLM, SGLang) rather than continuing it by default (llama.cpp); used by code execution.
    needs_continue_flag: bool = False
    # How many requests the server works on at once, from its `parallel_requests` setting, when that number is
    # fixed (llama.cpp's --parallel, NeMo's batch size, llama-cpp-python's one); None: it batches what fits and
    # queues the rest (vLLM, SGLang, TensorRT-LLM), or it is remote and unknown. The generation client opens with
    # this many requests in flight (inference/_client_report.limiter_for).
    slots: Callable[[int], int] | None = None
    description: str = ""
    # Seconds of generate-job time per item the launch plan assumes when no earlier run of the model on this server
    # type has been measured (a guess the plan names as one; measured rates replace it).
    guess_s_per_item: float = 1.0
    # The Python module the server needs when it is started on this machine (not in its cluster image), and what to
    # install to get it; None: nothing beyond the package (llamacpp checks its own binary).
    local_module: str | None = None
    install_hint: str = ""

    def check_startable_here(self) -> None:
        """Raise ConfigError naming what to install when this server cannot be started on this machine."""
        if self.local_module is not None and importlib.util.find_spec(self.local_module) is None:
            raise ConfigError(
                f"server type '{self.name}' needs the Python module '{self.local_module}' to start on this machine, "
                f"and it is not installed. {self.install_hint}"
            )


SERVER_TYPES: Registry[ServerType] = Registry("server type")


def register_server_type(server_type: ServerType) -> ServerType:
    """Add a server type; a duplicate name raises at import."""
    SERVER_TYPES.add(server_type.name, server_type)
    return server_type
