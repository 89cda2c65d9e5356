"""Skip real-Slurm tests, with the reason, when the client is missing or the controller is down."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest


def _skip(reason: str) -> None:
    # In CI the single-node Slurm is installed by .ci/run: a missing controller is a failure, not a skip.
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def slurm() -> None:
    if shutil.which("sbatch") is None:
        _skip("sbatch is not on PATH; install Slurm with: bash scripts/install_slurm.sh && bash scripts/start_slurm.sh")
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30, check=False)
    if ping.returncode != 0 or "UP" not in ping.stdout:
        _skip(
            f"the Slurm controller is down ({ping.stdout.strip() or ping.stderr.strip()}); start it with: "
            "bash scripts/start_slurm.sh"
        )
