"""Start-up behaviour: refusing weak isolation, accepting it when told, and bounded client waits."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from nemo_pipeline.errors import SandboxError, ServerStartError
from nemo_pipeline.sandbox import LocalSandbox, SandboxClient


@pytest.mark.timeout(60)
def test_refuses_to_start_without_bubblewrap() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nemo_pipeline.sandbox", "--port", "0", "--bwrap", "/nonexistent/bwrap"],
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert proc.returncode == 2
    assert "bubblewrap" in proc.stderr and "--allow-weak-isolation" in proc.stderr


@pytest.mark.timeout(60)
def test_local_sandbox_shows_the_log_tail_when_the_server_dies() -> None:
    with pytest.raises(ServerStartError, match="bubblewrap"), LocalSandbox(extra_args=("--bwrap", "/nonexistent")):
        pass


@pytest.mark.timeout(60)
def test_weak_isolation_when_allowed_is_reported() -> None:
    weak = LocalSandbox(workers=1, allow_weak_isolation=True, extra_args=("--bwrap", "/nonexistent/bwrap"))
    with weak as box, SandboxClient(box.url) as client:
        health = client.health()
        assert health["isolation"]["weak"] and "bubblewrap" in health["isolation"]["missing"]
        result = client.execute("import os\nprint(os.getuid() != 0)")
        assert (result.process_status, result.stdout) == ("completed", "True\n")
        assert client.execute("while True:\n    pass", timeout=1).process_status == "timeout"


@pytest.mark.timeout(30)
def test_client_waits_are_bounded_and_name_the_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    client = SandboxClient(url, retries=2, backoff_s=0.05)
    started = time.monotonic()
    with pytest.raises(SandboxError, match=url):
        client.wait_healthy(timeout_s=1.0)
    with pytest.raises(SandboxError, match=f"{url} after 3 attempts"):
        client.execute("print(1)")
    assert time.monotonic() - started < 10
