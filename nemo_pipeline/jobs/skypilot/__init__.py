"""SkyPilot backend (`backend: skypilot`, the `[skypilot]` extra): task YAML per job, a pipeline per run directory.

Importing this package registers the backend; SkyPilot itself is imported only to validate and launch.
"""

from nemo_pipeline.jobs.skypilot._backend import (
    SkyPilotBackend,
    SkyPilotRunHandle,
    launch_argv,
    skypilot_backend,
    validate_task_files,
)
from nemo_pipeline.jobs.skypilot._config import ModelSource, SkyPilotClusterConfig, parse_model_source
from nemo_pipeline.jobs.skypilot._render import PIPELINE_FILE, TASK_SUFFIX, RenderedRun, render_graph, render_task

__all__ = [
    "PIPELINE_FILE",
    "TASK_SUFFIX",
    "ModelSource",
    "RenderedRun",
    "SkyPilotBackend",
    "SkyPilotClusterConfig",
    "SkyPilotRunHandle",
    "launch_argv",
    "parse_model_source",
    "render_graph",
    "render_task",
    "skypilot_backend",
    "validate_task_files",
]
