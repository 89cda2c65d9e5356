"""The real single-node Slurm: tests that need it fail under CI and skip elsewhere when the client is missing or the
controller is down (`tests.conftest.require`)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import require

START = "bash scripts/install_slurm.sh && bash scripts/start_slurm.sh"


@pytest.fixture(scope="session")
def slurm() -> None:
    require("Slurm (sbatch)", shutil.which("sbatch") is not None, f"install and start it with: {START}")
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30, check=False)
    require(
        "a running Slurm controller",
        ping.returncode == 0 and "UP" in ping.stdout,
        f"scontrol ping says {ping.stdout.strip() or ping.stderr.strip()!r}; start it: bash scripts/start_slurm.sh",
    )
