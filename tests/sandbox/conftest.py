"""A real sandbox server (real bubblewrap, uids, cgroups) shared by the sandbox tests, and leftover checks."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nemo_pipeline.sandbox import LocalSandbox, SandboxClient

SECRET_NAME = "NEMO_SANDBOX_TEST_SECRET"
SECRET_VALUE = "s3cr3t-value-that-must-not-leak-7f1c"


def sandbox_processes(uid_first: int, uid_last: int) -> dict[int, list[tuple[int, str]]]:
    """uid -> [(pid, cmdline)] for every live process whose real uid is in [uid_first, uid_last] (a /proc scan)."""
    found: dict[int, list[tuple[int, str]]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(f"/proc/{entry.name}/status").read_text()
            cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state = next((line.split()[1] for line in status.splitlines() if line.startswith("State:")), "?")
        uid = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("Uid:")), -1)
        if uid_first <= uid <= uid_last and state != "Z":
            found.setdefault(uid, []).append((int(entry.name), cmdline[:80]))
    return found


def _is_warm(cmdline: str) -> bool:
    return "bwrap" in cmdline.split(" ", 1)[0] or "_nemo_sandbox_bootstrap" in cmdline


def assert_no_leftovers(health: dict, timeout_s: float = 10.0) -> None:
    """Only warm sandboxes (bwrap, its init, the waiting bootstrap: 3 processes per uid) may run as sandbox uids."""
    first, last = health["isolation"]["uid_range"]
    deadline = time.monotonic() + timeout_s
    while True:
        procs = sandbox_processes(first, last)
        bad = {
            uid: plist for uid, plist in procs.items() if len(plist) > 3 or not all(_is_warm(cmd) for _, cmd in plist)
        }
        if not bad:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"processes left behind under sandbox uids: {bad}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def sandbox(sandbox_isolation: None) -> Iterator[LocalSandbox]:
    os.environ[SECRET_NAME] = SECRET_VALUE
    try:
        with LocalSandbox(
            workers=4, start_timeout_s=60, extra_args=("--memory-mb", "512", "--max-processes", "32")
        ) as server:
            yield server
    finally:
        os.environ.pop(SECRET_NAME, None)


@pytest.fixture(scope="session")
def health(sandbox: LocalSandbox) -> dict:
    with SandboxClient(sandbox.url) as client:
        return client.health()


@pytest.fixture()
def client(sandbox: LocalSandbox) -> Iterator[SandboxClient]:
    with SandboxClient(sandbox.url) as c:
        yield c


@pytest.fixture()
def clean(health: dict, client: SandboxClient) -> Iterator[None]:
    """After the test: nothing left behind, and the server still runs the next program."""
    yield
    assert_no_leftovers(health)
    after = client.execute("print('still serving')", timeout=10)
    assert after.process_status == "completed" and after.stdout == "still serving\n", after
