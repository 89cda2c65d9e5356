"""MLflow: one MLflow run per model (a campaign: nested under a parent run named after it), with the configuration
as parameters, every benchmark/subset metric with its standard error, the summary table and the report files.

MLflow refuses `@` in a metric name: `pass@1` is logged as `pass_at_1` (any other refused character becomes `_`)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from nemo_pipeline.errors import ConfigError, ExportError, NemoPipelineError
from nemo_pipeline.process import http_ok
from nemo_pipeline.trackers._base import TRACKERS, TrackedGroup, TrackedRun, require_module

__all__ = ["MlflowTracker", "mlflow_key"]

_LOCAL_SCHEMES = ("sqlite", "file", "")
_BATCH = 100  # params per log_batch call (MLflow's limit; metrics allow 1000)
_PARAM_CHARS = 6000
_REFUSED = re.compile(r"[^\w/.\- :]")


def mlflow_key(key: str) -> str:
    """A metric or parameter name MLflow accepts: `gsm8k/all/pass@1` -> `gsm8k/all/pass_at_1`."""
    return _REFUSED.sub("_", key.replace("@", "_at_"))


def _quiet_environment() -> None:
    """MLflow sends usage telemetry unless told not to; this project phones nowhere."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")


def _local_path(uri: str) -> Path | None:
    """The file a sqlite:/// URI names, the folder of a file: URI or a plain path; None for a server URI."""
    parsed = urlparse(uri)
    if parsed.scheme == "sqlite":
        return Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None
    if parsed.scheme in ("file", ""):
        return Path(parsed.path)
    return None


class MlflowTracker:
    extra = "mlflow"

    def check(self, target: str) -> None:
        require_module("mlflow", "++export.mlflow", self.extra)
        scheme = urlparse(target).scheme
        if scheme in ("http", "https"):
            url = f"{target.rstrip('/')}/health"
            if not http_ok(url, timeout_s=5.0):
                raise ConfigError(f"++export.mlflow={target}: the MLflow server is unreachable (GET {url} failed)")
            return
        if scheme in _LOCAL_SCHEMES:
            path = _local_path(target)
            if path is None:
                raise ConfigError(f"++export.mlflow={target}: write a SQLite store as sqlite:////absolute/path.db")
            if scheme != "sqlite" and os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() != "true":
                raise ConfigError(
                    f"++export.mlflow={target}: MLflow 3 refuses a file store; use sqlite:///{path}.db "
                    "(or set MLFLOW_ALLOW_FILE_STORE=true)"
                )
            folder = path.parent if scheme == "sqlite" else path
            probe = folder if folder.exists() else next((p for p in folder.parents if p.exists()), folder)
            if not os.access(probe, os.W_OK):
                raise ConfigError(f"++export.mlflow={target}: {probe} is not writable")
            return
        raise ConfigError(
            f"++export.mlflow={target}: unsupported tracking URI scheme '{scheme}'; use http(s)://HOST:PORT, "
            "sqlite:////path/mlflow.db or file:/path"
        )

    def log(
        self, target: str, runs: Sequence[TrackedRun], group: TrackedGroup | None, options: dict[str, str]
    ) -> list[str]:
        _quiet_environment()
        try:
            return _log(target, runs, group, options.get("experiment", "nemo-pipeline"))
        except NemoPipelineError:
            raise
        except Exception as exc:  # the library's own errors (MlflowException, OSError...): one line, named
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExportError(f"++export.mlflow={target}: logging failed: {first}") from exc


def _log(target: str, runs: Sequence[TrackedRun], group: TrackedGroup | None, experiment: str) -> list[str]:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient(tracking_uri=target)
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        experiment_id = found.experiment_id
    else:
        local = _local_path(target)
        # Beside a local store, not in the current folder (MLflow's default is ./mlruns).
        artifacts = None if local is None else (local.parent / "mlartifacts").resolve().as_uri()
        experiment_id = client.create_experiment(experiment, artifact_location=artifacts)
    now = int(time.time() * 1000)
    created: list[str] = []
    parent_id = None
    if group is not None:
        parent = client.create_run(experiment_id, run_name=group.name, tags={"nemo_pipeline.campaign": group.name})
        parent_id = parent.info.run_id
        _artifacts(client, parent_id, group.table, group.files, {"directory": str(group.directory)})
        client.set_terminated(parent_id)
        created.append(parent_id)
    for run in runs:
        tags = {"nemo_pipeline.directory": str(run.directory)}
        if group is not None and parent_id is not None:
            tags.update({"mlflow.parentRunId": parent_id, "nemo_pipeline.campaign": group.name})
        run_id = client.create_run(experiment_id, run_name=run.name, tags=tags).info.run_id
        params = [Param(mlflow_key(key)[:250], value[:_PARAM_CHARS]) for key, value in sorted(run.params.items())]
        metrics = [Metric(mlflow_key(key), value, now, 0) for key, value in run.metrics.items()]
        for start in range(0, max(len(params), len(metrics)), _BATCH):
            client.log_batch(run_id, metrics=metrics[start : start + _BATCH], params=params[start : start + _BATCH])
        _artifacts(client, run_id, run.table, run.files, run.config)
        client.set_terminated(run_id)
        created.append(run_id)
    return created


def _artifacts(
    client: Any, run_id: str, table: list[dict[str, str]], files: Sequence[Path], config: dict[str, Any]
) -> None:
    client.log_dict(run_id, config, "config.json")
    client.log_dict(run_id, table, "summary_table.json")
    for path in files:
        client.log_artifact(run_id, str(path))


TRACKERS.add("mlflow", MlflowTracker())
