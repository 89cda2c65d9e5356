"""Skip real-Slurm tests, with the reason, when the client is missing or the controller is down."""

from __future__ import annotations

import shutil
import subprocess

import pytest


@pytest.fixture(scope="session")
def slurm() -> None:
    if shutil.which("sbatch") is None:
        pytest.skip(
            "sbatch is not on PATH; install Slurm with: bash scripts/install_slurm.sh && bash scripts/start_slurm.sh"
        )
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30, check=False)
    if ping.returncode != 0 or "UP" not in ping.stdout:
        pytest.skip(
            f"the Slurm controller is down ({ping.stdout.strip() or ping.stderr.strip()}); start it with: "
            "bash scripts/start_slurm.sh"
        )
