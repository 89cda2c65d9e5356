"""The job graph, the evaluation graph builder and the backends that run it."""

from nemo_pipeline.jobs._graph import Component, Job, JobGraph
from nemo_pipeline.jobs.eval_graph import BenchmarkRequest, build_eval_graph, parse_benchmarks
from nemo_pipeline.jobs.local import JobOutcome, JobState, LocalBackend, LocalRun

__all__ = [
    "BenchmarkRequest",
    "Component",
    "Job",
    "JobGraph",
    "JobOutcome",
    "JobState",
    "LocalBackend",
    "LocalRun",
    "build_eval_graph",
    "parse_benchmarks",
]
