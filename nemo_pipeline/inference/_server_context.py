"""Resolve the server a stage talks to: a given address, or one started here and always stopped."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from nemo_pipeline.config import ServerConfig
from nemo_pipeline.errors import ConfigError, ServerStartError
from nemo_pipeline.inference.servers import SERVER_TYPES, ServerSpec
from nemo_pipeline.layout import server_log
from nemo_pipeline.process import ManagedProcess, free_port, http_ok

__all__ = ["ServerEndpoint", "check_reachable", "serving"]


@dataclass(frozen=True)
class ServerEndpoint:
    base_url: str  # OpenAI-compatible root, ends in /v1 for most servers
    model: str  # name to send in requests ("" = ask the server)
    api_key: str | None


def check_reachable(address: str, timeout_s: float = 10.0, api_key: str | None = None) -> None:
    """Poll `<address>/models` until it answers 2xx; a one-line error naming the address at the deadline."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
    url = f"{address.rstrip('/')}/models"
    deadline = time.monotonic() + timeout_s
    while not http_ok(url, timeout_s=min(5.0, max(timeout_s, 0.5)), headers=headers):
        if time.monotonic() >= deadline:
            raise ConfigError(
                f"server address {address} is unreachable: GET {url} did not answer 2xx in {timeout_s:.0f} s"
            )
        time.sleep(1.0)


@contextlib.contextmanager
def serving(cfg: ServerConfig, log_dir: Path) -> Iterator[ServerEndpoint]:
    """Yield an endpoint for `cfg`; start (and afterwards stop) a server when no address is given."""
    server_type = SERVER_TYPES.get(cfg.server_type)
    api_key = os.environ.get(cfg.api_key_env) or None
    if cfg.address:
        # The address may be a server starting beside us (another component of the same job): wait, bounded.
        check_reachable(cfg.address, timeout_s=cfg.start_timeout_s, api_key=api_key)
        yield ServerEndpoint(cfg.address.rstrip("/"), cfg.model, api_key)
        return
    if server_type.launch is None:
        raise ConfigError(f"server type '{cfg.server_type}' starts nothing: give ++server.address (--server_address)")
    port = cfg.port or free_port()
    spec = ServerSpec(
        model=cfg.model,
        port=port,
        gpus=cfg.gpus,
        tensor_parallel=cfg.tensor_parallel,
        parallel_requests=cfg.parallel_requests,
        context_length=cfg.context_length,
        extra_args=tuple(cfg.extra_args),
    )
    server_type.check_startable_here()
    launch = server_type.launch(spec)
    log_path = server_log(log_dir, cfg.server_type, port)
    with ManagedProcess(f"{cfg.server_type} server", launch.argv, log_path, env=launch.env) as server:
        server.wait_healthy(launch.health_url, cfg.start_timeout_s)
        if server.returncode() is not None:
            raise ServerStartError(f"{cfg.server_type} server", "exited right after becoming healthy")
        yield ServerEndpoint(launch.base_url, cfg.model or "default", None)
