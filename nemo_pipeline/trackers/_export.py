"""The trackers a run asks for (`ExportConfig`), the check before anything starts, the arguments the summary job
gets, and the logging itself, recorded in `export.json` so that a rerun with nothing new logs nothing twice."""

from __future__ import annotations

from pathlib import Path

from nemo_pipeline.config import ExportConfig
from nemo_pipeline.layout import export_marker, export_stamp
from nemo_pipeline.records import write_marker
from nemo_pipeline.report import Summary
from nemo_pipeline.trackers._base import TRACKERS
from nemo_pipeline.trackers._runs import tracked_runs

__all__ = ["check_exports", "export_args", "export_summary", "export_targets"]


def export_targets(cfg: ExportConfig) -> dict[str, str]:
    """Tracker name -> its target (URI or project), for the trackers the config names."""
    targets = {"mlflow": cfg.mlflow, "wandb": cfg.wandb}
    return {name: target for name, target in targets.items() if target}


def check_exports(cfg: ExportConfig) -> None:
    """One-line ConfigError (or MissingExtraError) for a tracker that cannot be logged to; imports no library."""
    for name, target in export_targets(cfg).items():
        TRACKERS.get(name).check(target)


def export_args(cfg: ExportConfig) -> tuple[str, ...]:
    """The summarize_results options that log to the trackers of `cfg`."""
    args: list[str] = []
    if cfg.mlflow:
        args += ["--mlflow", cfg.mlflow, "--mlflow-experiment", cfg.mlflow_experiment]
    if cfg.wandb:
        args += ["--wandb", cfg.wandb]
    return tuple(args)


def export_summary(summary: Summary, output_dir: Path, cfg: ExportConfig) -> dict[str, list[str]]:
    """Log every model of `summary` (written into `output_dir`) to each tracker; returns tracker -> ids created."""
    targets = export_targets(cfg)
    runs, group = tracked_runs(summary, output_dir)
    created = {}
    for name, target in targets.items():
        created[name] = TRACKERS.get(name).log(target, runs, group, {"experiment": cfg.mlflow_experiment})
    write_marker(export_marker(output_dir), {**export_stamp(output_dir, export_args(cfg)), "created": created})
    return created
