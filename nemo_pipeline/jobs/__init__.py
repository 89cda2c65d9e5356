"""The job graph, the evaluation graph builder and the backends that run it."""

from nemo_pipeline.jobs._backend import (
    BACKENDS,
    Backend,
    ClusterSpec,
    RunHandle,
    attach_run,
    create_backend,
    load_cluster_spec,
    record_submission,
    submitted_file,
)
from nemo_pipeline.jobs._graph import Component, Job, JobGraph
from nemo_pipeline.jobs._stage_configs import prompt_config_for
from nemo_pipeline.jobs.eval_graph import BenchmarkRequest, add_model_jobs, build_eval_graph, parse_benchmarks
from nemo_pipeline.jobs.local import JobOutcome, JobState, LocalBackend, LocalRun

__all__ = [
    "BACKENDS",
    "Backend",
    "BenchmarkRequest",
    "ClusterSpec",
    "Component",
    "Job",
    "JobGraph",
    "JobOutcome",
    "JobState",
    "LocalBackend",
    "LocalRun",
    "RunHandle",
    "add_model_jobs",
    "attach_run",
    "build_eval_graph",
    "create_backend",
    "load_cluster_spec",
    "parse_benchmarks",
    "prompt_config_for",
    "record_submission",
    "submitted_file",
]
