"""Experiment trackers (`++export.mlflow=URI`, `++export.wandb=PROJECT`): each run's configuration, metrics per
benchmark and subset with standard errors, summary table and report are logged once its summary is written; a
campaign logs one run per model, grouped. The libraries are optional extras, imported only when logging."""

from nemo_pipeline.trackers import _mlflow, _wandb  # noqa: F401  (register the trackers)
from nemo_pipeline.trackers._base import TRACKERS, TrackedGroup, TrackedRun, Tracker
from nemo_pipeline.trackers._export import check_exports, export_args, export_summary, export_targets
from nemo_pipeline.trackers._mlflow import mlflow_key

__all__ = [
    "TRACKERS",
    "TrackedGroup",
    "TrackedRun",
    "Tracker",
    "check_exports",
    "export_args",
    "export_summary",
    "export_targets",
    "mlflow_key",
]
