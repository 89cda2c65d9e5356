"""Code-execution sandbox: an HTTP server (bubblewrap namespaces, an unprivileged uid per worker, rlimits, cgroups),
its client, and a context manager that runs a local server for the length of a `with` block.

    python -m nemo_pipeline.sandbox --port 6000
"""

from __future__ import annotations

from nemo_pipeline.sandbox._client import ExecutionResult, SandboxClient
from nemo_pipeline.sandbox._local import LocalSandbox

__all__ = ["ExecutionResult", "LocalSandbox", "SandboxClient", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the sandbox server (same as `python -m nemo_pipeline.sandbox`)."""
    from nemo_pipeline.sandbox._server import main as server_main

    return server_main(argv)
