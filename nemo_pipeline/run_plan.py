"""The launch plan `pipeline/eval.py` shows before anything starts (and `--dry_run` shows instead of starting):
per model its source, server type, GPUs per server job, the jobs and the items per benchmark, and an estimate of
wall time, GPU-hours and cost with how it was made. A real run records each model's estimate in `<run>/plan.json`,
which the summary puts beside the actual figures of the same jobs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from nemo_pipeline.config import EvalConfig
from nemo_pipeline.jobs import JobGraph
from nemo_pipeline.jobs.estimate import Estimate, Rates, estimate_jobs, measured_rates
from nemo_pipeline.jobs.eval_graph import BenchmarkRequest, ModelJobs
from nemo_pipeline.model_source import is_source_uri, parse_model_source
from nemo_pipeline.records import PlanRecord, write_plan_record
from nemo_pipeline.report import fmt_duration

__all__ = [
    "BenchmarkPlan",
    "LaunchPlan",
    "ModelPlan",
    "PlannedModel",
    "build_launch_plan",
    "describe_source",
    "render_plan",
    "write_plan_records",
]


@dataclass(frozen=True)
class PlannedModel:
    """What the plan needs of one model of the request: its folder name ("" for a single model), config, jobs."""

    name: str
    cfg: EvalConfig
    jobs: ModelJobs


@dataclass(frozen=True)
class BenchmarkPlan:
    name: str
    items: int  # per output file, after max_samples
    runs: int  # output files: 1 greedy, or one per seed
    to_generate: int  # generations still to make (a rerun makes only what is missing)

    def describe(self) -> str:
        runs = "1 greedy run" if self.runs == 1 else f"{self.runs} seeds"
        return (
            f"{self.name}: {self.items} items x {runs} = {self.items * self.runs} generations, "
            f"{self.to_generate} still to make"
        )


@dataclass(frozen=True)
class ModelPlan:
    name: str
    source: str
    server_type: str
    gpus_per_server_job: int
    benchmarks: tuple[BenchmarkPlan, ...]
    jobs: tuple[str, ...]
    rates: Rates
    estimate: Estimate


@dataclass(frozen=True)
class LaunchPlan:
    cluster: str
    sequential: bool  # the backend runs one job after another
    models: tuple[ModelPlan, ...]
    total: Estimate
    cost_per_gpu_hour: float | None


def describe_source(cfg: EvalConfig) -> str:
    """Where the model comes from, in words."""
    server = cfg.server
    if server.address:
        return f"served at {server.address}" + (f" as {server.model}" if server.model else "")
    if not server.model:
        return f"the {server.server_type} server type's embedded default"
    if is_source_uri(server.model):
        source = parse_model_source(server.model, "model")
        kind = "Hugging Face repo" if source.scheme == "hf" else f"{source.scheme} bucket"
        return f"{kind} {source.uri}, fetched once into the model cache"
    return f"path or name {server.model}"


def _model_name(cfg: EvalConfig) -> str:
    """The model as run.json records it (what measured rates are matched on)."""
    return cfg.server.model or f"{cfg.server.server_type}-default"


def build_launch_plan(
    graph: JobGraph,
    models: Sequence[PlannedModel],
    benchmarks: Sequence[BenchmarkRequest],
    cluster: str,
    cost_per_gpu_hour: float | None,
    sequential: bool,
) -> LaunchPlan:
    """Estimate every job of `graph` from the rates measured under the output directory's parent folder."""
    root = graph.output_dir.parent
    rates = {m.name: measured_rates(root, _model_name(m.cfg), m.cfg.server.server_type) for m in models}
    rates.setdefault("", rates[models[0].name])  # a campaign's comparison job belongs to no model
    plans = []
    for model in models:
        jobs = [job for job in graph.jobs if job.run_dir == model.name]
        benches = tuple(
            BenchmarkPlan(
                b.name,
                model.jobs.selected[b.name],
                max(1, b.seeds),
                model.jobs.to_generate.get(b.name, 0),
            )
            for b in benchmarks
        )
        server = model.cfg.server
        plans.append(
            ModelPlan(
                model.name,
                describe_source(model.cfg),
                server.server_type,
                0 if server.address else server.gpus,
                benches,
                tuple(job.name for job in jobs),
                rates[model.name],
                estimate_jobs(graph, jobs, rates, cost_per_gpu_hour, sequential),
            )
        )
    total = estimate_jobs(graph, graph.jobs, rates, cost_per_gpu_hour, sequential)
    return LaunchPlan(cluster, sequential, tuple(plans), total, cost_per_gpu_hour)


def _figures(estimate: Estimate, rate: float | None) -> str:
    cost = "no cost (set cost_per_gpu_hour in the cluster config)" if rate is None else f"cost {estimate.cost:.2f}"
    return (
        f"elapsed about {fmt_duration(estimate.elapsed_s)} ({fmt_duration(estimate.job_seconds)} of jobs), "
        f"{estimate.gpu_hours:.3f} GPU-hours, {cost}"
    )


def render_plan(plan: LaunchPlan) -> str:
    """The plan as text, one block per model and a total."""
    how = "one job after another" if plan.sequential else "jobs side by side where their dependencies allow"
    lines = [f"plan: {len(plan.total.seconds)} job(s) on {plan.cluster} ({how})"]
    for model in plan.models:
        label = f"model {model.name}" if model.name else "model"
        lines.append(
            f"{label}: {model.source}; server type {model.server_type}; "
            f"{model.gpus_per_server_job} GPU(s) per server job"
        )
        lines += [f"  {bench.describe()}" for bench in model.benchmarks]
        lines.append(f"  jobs ({len(model.jobs)}): {', '.join(model.jobs) or 'none (every step is complete)'}")
        guess = "a guess" if model.rates.is_guess else "from measured rates"
        lines.append(f"  estimate ({guess}): {_figures(model.estimate, plan.cost_per_gpu_hour)}")
        lines.append(f"  rates: {model.rates.describe()}")
    if len(plan.models) > 1:
        lines.append(f"total: {_figures(plan.total, plan.cost_per_gpu_hour)}")
    return "\n".join(lines)


def write_plan_records(plan: LaunchPlan, graph: JobGraph) -> None:
    """`<run>/plan.json` for each model with jobs to run: what the summary compares the actual figures with."""
    for model in plan.models:
        if not model.jobs:
            continue  # nothing runs: the previous plan stays beside the jobs it planned
        jobs = [graph.get(name) for name in model.jobs]
        write_plan_record(
            graph.layout(jobs[0]).plan_record,
            PlanRecord(
                created_at=time.time(),
                jobs={job.file_stem: model.estimate.seconds[job.name] for job in jobs},
                gpu_hours=model.estimate.gpu_hours,
                elapsed_s=model.estimate.elapsed_s,
                cost_per_gpu_hour=plan.cost_per_gpu_hour,
                guess=model.rates.is_guess,
                basis=model.rates.describe(),
            ),
        )
