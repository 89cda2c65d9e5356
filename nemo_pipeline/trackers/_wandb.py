"""Weights & Biases: one W&B run per model in the project (a campaign: grouped under its name), with the
configuration, every benchmark/subset metric with its standard error, the summary table and the report files as an
artifact. WANDB_MODE=offline writes each run under `<output_dir>/wandb/offline-run-*` (upload later with
`wandb sync`); nothing else is sent anywhere: no code, git state, system metrics or error reports."""

from __future__ import annotations

import netrc
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from nemo_pipeline.errors import ConfigError, ExportError, NemoPipelineError
from nemo_pipeline.process import http_ok
from nemo_pipeline.trackers._base import TRACKERS, TrackedGroup, TrackedRun, require_module

__all__ = ["WandbTracker"]

_PROJECT = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")
_LOCAL_MODES = ("offline", "disabled", "dryrun")
_DEFAULT_URL = "https://api.wandb.ai"


def _quiet_environment() -> None:
    """W&B reports its own errors to Sentry unless told not to."""
    os.environ.setdefault("WANDB_ERROR_REPORTING", "false")
    os.environ.setdefault("WANDB_DISABLE_CODE", "true")
    os.environ.setdefault("WANDB_DISABLE_GIT", "true")


def _has_api_key(base_url: str) -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc().authenticators(urlparse(base_url).hostname or "") is not None
    except (OSError, netrc.NetrcParseError):
        return False


class WandbTracker:
    extra = "wandb"

    def check(self, target: str) -> None:
        require_module("wandb", "++export.wandb", self.extra)
        if not _PROJECT.match(target):
            raise ConfigError(f"++export.wandb={target}: a W&B project name (letters, digits, '_', '-', '.')")
        if os.environ.get("WANDB_MODE", "") in _LOCAL_MODES:
            return
        base_url = os.environ.get("WANDB_BASE_URL", _DEFAULT_URL)
        if not _has_api_key(base_url):
            raise ConfigError(
                f"++export.wandb={target}: no W&B API key for {base_url}: set WANDB_API_KEY (or run `wandb login`), "
                "or WANDB_MODE=offline to write the runs locally"
            )
        if not http_ok(f"{base_url.rstrip('/')}/healthz", timeout_s=5.0):
            raise ConfigError(f"++export.wandb={target}: the W&B server {base_url} is unreachable")

    def log(
        self, target: str, runs: Sequence[TrackedRun], group: TrackedGroup | None, options: dict[str, str]
    ) -> list[str]:
        _quiet_environment()
        try:
            return _log(target, runs, group)
        except NemoPipelineError:
            raise
        except Exception as exc:  # the library's own errors: one line, named
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExportError(f"++export.wandb={target}: logging failed: {first}") from exc


def _settings(wandb: Any) -> Any:
    return wandb.Settings(
        console="off",
        disable_code=True,
        disable_git=True,
        save_code=False,
        silent=True,
        x_disable_stats=True,
        x_disable_machine_info=True,
        x_save_requirements=False,
    )


def _log(project: str, runs: Sequence[TrackedRun], group: TrackedGroup | None) -> list[str]:
    import wandb

    created = []
    for run in runs:
        where = Path(os.environ.get("WANDB_DIR") or (group.directory if group is not None else run.directory))
        handle = wandb.init(
            project=project,
            name=run.name,
            group=None if group is None else group.name,
            job_type="evaluation",
            config=run.config,
            dir=str(where),
            settings=_settings(wandb),
        )
        try:
            handle.log(dict(run.metrics), step=0)
            handle.summary.update(dict(run.metrics))
            tables = [("summary_table", run.table)] + ([("campaign_table", group.table)] if group is not None else [])
            for key, rows in tables:
                if rows:
                    columns = list(rows[0])
                    handle.log(
                        {key: wandb.Table(columns=columns, data=[[r.get(c, "") for c in columns] for r in rows])}
                    )
            artifact = wandb.Artifact(f"{_safe(run.name)}-report", type="evaluation-report")
            for path in run.files:
                artifact.add_file(str(path), name=path.name)
            for path in group.files if group is not None else ():
                artifact.add_file(str(path), name=f"campaign/{path.name}")
            if run.files or group is not None:
                handle.log_artifact(artifact)
            created.append(handle.id)
        finally:
            handle.finish()
    return created


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)


TRACKERS.add("wandb", WandbTracker())
