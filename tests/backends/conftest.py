"""Fixtures of the optional backends: a missing library skips (fails with CI=1), offline re-runs, connection guards."""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest

REPO = Path(__file__).resolve().parents[2]
OFFLINE_FLAG = "NEMO_PIPELINE_TEST_OFFLINE"


def need(module: str, extra: str) -> None:
    """Skip when `module` is not importable; with CI=1 fail instead (CI installs every extra the tests use)."""
    if importlib.util.find_spec(module) is None:
        reason = f"'{module}' is not installed: pip install \"nemo-pipeline[{extra}]\""
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def _network_is_blocked() -> bool:
    probe = socket.socket()
    probe.settimeout(2)
    try:
        probe.connect(("1.1.1.1", 443))
    except OSError:
        return True
    finally:
        probe.close()
    return False


_OFFLINE_RUNS: dict[str, dict[str, str]] = {}  # module file -> test name -> "passed" | "skipped: ..." | failure text


def _run_module_offline(module: Path, tmp_path: Path) -> dict[str, str]:
    """Run every test of `module` once inside the namespace; the outcome of each, by test name (junit XML)."""
    home = tmp_path / "home"
    home.mkdir()
    report = tmp_path / "offline-junit.xml"
    env = {
        **os.environ,
        OFFLINE_FLAG: "1",
        "HOME": str(home),
        "SKYPILOT_DISABLE_USAGE_COLLECTION": "1",
        "DO_NOT_TRACK": "1",
        "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    argv = [
        "bash", str(REPO / "scripts" / "netns_run.sh"), sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "-p", "no:warnings", "--tb=short", f"--junitxml={report}", str(module),
    ]  # fmt: skip
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)
    if not report.exists():
        pytest.fail(f"the offline run of {module.name} wrote no report:\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}")
    outcomes: dict[str, str] = {}
    for case in ElementTree.parse(report).iter("testcase"):
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        skipped = case.find("skipped")
        if problem is not None:
            outcomes[case.get("name", "")] = f"failed:\n{problem.text or problem.get('message', '')}"
        elif skipped is not None:
            outcomes[case.get("name", "")] = f"skipped: {skipped.get('message', '')}"
        else:
            outcomes[case.get("name", "")] = "passed"
    return outcomes


@pytest.fixture
def offline(request: pytest.FixtureRequest, tmp_path: Path) -> bool:
    """Run the calling test inside a network namespace without network (scripts/netns_run.sh), with an empty HOME
    and usage collection off. Returns True inside (the test goes on), False outside once its inner run passed
    (the test returns); an inner skip skips the outer test. The tests of one module share one inner run."""
    if os.environ.get(OFFLINE_FLAG) == "1":
        assert _network_is_blocked(), "the offline re-run can reach the internet"
        return True
    if shutil.which("unshare") is None:
        pytest.fail("'unshare' (util-linux) is needed to run this test without network")
    module = Path(str(request.node.fspath))
    if str(module) not in _OFFLINE_RUNS:
        _OFFLINE_RUNS[str(module)] = _run_module_offline(module, tmp_path)
    outcome = _OFFLINE_RUNS[str(module)].get(request.node.name, "missing from the offline run")
    if outcome.startswith("skipped"):
        pytest.skip("inside the network namespace: " + outcome)
    assert outcome == "passed", f"inside the network namespace: {outcome}"
    return False


GUARD_DIR = Path(__file__).resolve().parent / "loopback_guard"


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Refuse every connection to an address outside 127.0.0.0/8, in this process and in every Python process it
    starts (eval.py, and the Slurm jobs, which inherit the environment), and fail the test if one was tried.

    For tests that must reach services on the host's loopback (slurmctld, slurmdbd, a scripted server) and so
    cannot run in a network namespace of their own. Programs that are not Python (sbatch, sacct) are not covered;
    they talk to 127.0.0.1."""
    log = tmp_path / "non-loopback-connections.log"
    log.touch()
    monkeypatch.setenv("NEMO_PIPELINE_LOOPBACK_ONLY", "1")
    monkeypatch.setenv("NEMO_PIPELINE_LOOPBACK_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", str(GUARD_DIR) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.setenv("SKYPILOT_DISABLE_USAGE_COLLECTION", "1")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    original = socket.socket.connect

    def guarded(sock: socket.socket, address: object) -> object:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
            host = str(address[0]).split("%")[0]
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                with log.open("a", encoding="utf-8") as handle:
                    handle.write(f"{os.getpid()} {host}:{address[1]}\n")
                raise ConnectionRefusedError(f"test guard: connection to {host} refused (loopback only)")
        return original(sock, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield log
    attempts = log.read_text(encoding="utf-8")
    assert not attempts, f"processes of this test tried to reach non-loopback addresses:\n{attempts}"
