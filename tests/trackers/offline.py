"""The trackers' libraries, for real and offline: MLflow with a SQLite store, W&B in offline mode. Neither may
phone home: MLflow's telemetry is off, W&B writes its runs locally and sends no error reports, code or git state."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.conftest import require

INSTALL = 'pip install "nemo-pipeline[mlflow,wandb]" (scripts/install.sh --dev installs both)'


def offline_tracker_env(tmp_path: Path, base: dict[str, str]) -> dict[str, str]:
    """`base` with both libraries required, MLflow's telemetry off and W&B offline, writing its caches under tmp."""
    require("mlflow", importlib.util.find_spec("mlflow") is not None, INSTALL)
    require("wandb", importlib.util.find_spec("wandb") is not None, INSTALL)
    env = dict(base)
    env.update(
        {
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "WANDB_MODE": "offline",
            "WANDB_ERROR_REPORTING": "false",
            "WANDB_DISABLE_CODE": "true",
            "WANDB_DISABLE_GIT": "true",
            "WANDB_CONSOLE": "off",
            "WANDB_SILENT": "true",
            "WANDB_CACHE_DIR": str(tmp_path / "wandb-cache"),
            "WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"),
            "WANDB_DATA_DIR": str(tmp_path / "wandb-data"),
        }
    )
    env.pop("WANDB_API_KEY", None)
    env.pop("WANDB_DIR", None)
    return env
