"""`pipeline/eval.py`: compose and validate everything locally, build the job graph, run it on a backend.

One model (`--model ...`) or a campaign (`--models models.yaml`): a campaign runs every model's graph into
`<output_dir>/<name>/` and adds one comparison summary after all of them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from nemo_pipeline.campaign import ModelEntry, load_models_file
from nemo_pipeline.cli import split_overrides
from nemo_pipeline.config import CONF_DIR, EvalConfig, check_tokens_to_generate, compose_config, flat_values
from nemo_pipeline.datasets import BENCHMARKS, prepare
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.evaluation import GRADERS
from nemo_pipeline.inference.core import check_reachable
from nemo_pipeline.inference.prompts import load_prompt
from nemo_pipeline.inference.servers import SERVER_TYPES
from nemo_pipeline.jobs import (
    Backend,
    Component,
    Job,
    JobGraph,
    create_backend,
    load_cluster_spec,
    prompt_config_for,
    record_submission,
)
from nemo_pipeline.jobs.eval_graph import BenchmarkRequest, ModelJobs, add_model_jobs, parse_benchmarks
from nemo_pipeline.layout import (
    RunLayout,
    campaign_record_file,
    campaign_runs,
    exports_complete,
    model_run,
    summary_complete,
)
from nemo_pipeline.loglik import check_server_can_score
from nemo_pipeline.model_source import is_source_uri, parse_model_source
from nemo_pipeline.records import CampaignRecord, RunRecord, write_campaign_record, write_run_record
from nemo_pipeline.run_plan import PlannedModel, build_launch_plan, render_plan, write_plan_records
from nemo_pipeline.trackers import check_exports, export_args

__all__ = ["EvalRequest", "ModelRun", "main", "parse_eval_args", "plan"]

log = logging.getLogger(__name__)
WAIT_TIMEOUT_S = 24 * 3600.0


@dataclass(frozen=True)
class ModelRun:
    """One model of the request: its name (a campaign's folder; "" for a single model) and composed config."""

    name: str
    cfg: EvalConfig
    entry: ModelEntry | None = None


@dataclass(frozen=True)
class EvalRequest:
    cluster: str
    benchmarks: list[BenchmarkRequest]
    output_dir: Path
    models: list[ModelRun]
    dry_run: bool
    wait: bool
    argv: list[str]
    campaign: bool = False

    @property
    def cfg(self) -> EvalConfig:
        """The config of a single-model request."""
        return self.models[0].cfg


def parse_eval_args(argv: list[str]) -> EvalRequest:
    """Parse and validate the command line (and a models file); nothing is started or submitted here."""
    overrides, rest = split_overrides(argv)
    parser = argparse.ArgumentParser(prog="pipeline/eval.py", description="Evaluate models on benchmarks.")
    parser.add_argument("--cluster", default="local", help="local, slurm, or a path to a cluster yaml")
    parser.add_argument("--benchmarks", required=True, help="comma-separated NAME[:SEEDS], e.g. gsm8k:0,humaneval:4")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--model", default=None, help="model path or served name (default: the embedded model)")
    parser.add_argument("--models", default=None, help="a models file (YAML) for a campaign of several models")
    parser.add_argument("--server_type", default=None, help=f"one of {', '.join(SERVER_TYPES.names())}")
    parser.add_argument("--server_address", default=None, help="OpenAI-compatible base URL of a running server")
    parser.add_argument("--server_gpus", type=int, default=None)
    parser.add_argument("--dry_run", action="store_true", help="write the job scripts and print them; run nothing")
    parser.add_argument("--wait", action="store_true", help="(cluster) wait for the jobs and report their states")
    args = parser.parse_args(rest)
    benchmarks = parse_benchmarks(args.benchmarks)
    server_overrides = []
    for key, value in (
        ("server.model", args.model),
        ("server.server_type", args.server_type),
        ("server.address", args.server_address),
        ("server.gpus", args.server_gpus),
    ):
        if value is not None:
            server_overrides.append(f"++{key}={json.dumps(value) if isinstance(value, str) else value}")
    if args.models:
        if server_overrides:
            raise ConfigError(
                "--models names every model's server; drop --model/--server_type/--server_address/--server_gpus"
            )
        entries = load_models_file(Path(args.models))
        models = [
            ModelRun(e.name, _compose(overrides + e.eval_overrides(), f"{args.models}: entry '{e.name}'"), e)
            for e in entries
        ]
    else:
        models = [ModelRun("", _compose([*server_overrides, *overrides], "command line"))]
    exports = {json.dumps(dataclasses.asdict(m.cfg.export), sort_keys=True) for m in models}
    if len(exports) > 1:
        raise ConfigError(f"{args.models}: ++export.* differs between entries; a campaign logs to one set of trackers")
    return EvalRequest(
        cluster=args.cluster,
        benchmarks=benchmarks,
        output_dir=Path(args.output_dir).resolve(),
        models=models,
        dry_run=args.dry_run,
        wait=args.wait,
        argv=list(argv),
        campaign=bool(args.models),
    )


def _compose(overrides: list[str], where: str) -> EvalConfig:
    try:
        cfg = compose_config(EvalConfig, "eval", overrides)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    SERVER_TYPES.get(cfg.server.server_type)
    if cfg.server.server_type == "openai" and not cfg.server.address:
        raise ConfigError(f"{where}: server type openai needs --server_address (an OpenAI-compatible base URL)")
    if cfg.num_chunks < 1:
        raise ConfigError(f"{where}: num_chunks must be >= 1, got {cfg.num_chunks}")
    if cfg.max_samples_per_subset == 0 or cfg.max_samples_per_subset < -1:
        raise ConfigError(
            f"{where}: max_samples_per_subset must be -1 (all) or at least 1, got {cfg.max_samples_per_subset}"
        )
    if cfg.num_jobs < 0:
        raise ConfigError(f"{where}: num_jobs must be >= 0 (0: one job per generate task), got {cfg.num_jobs}")
    check_tokens_to_generate(cfg.inference.tokens_to_generate, f"{where}: inference.tokens_to_generate")
    check_tokens_to_generate(cfg.judge.tokens_to_generate, f"{where}: judge.tokens_to_generate")
    if not cfg.server.address and is_source_uri(cfg.server.model):
        parse_model_source(cfg.server.model, f"{where}: model")  # a bad URI fails here, naming where it came from
    if is_source_uri(cfg.judge.server.model) and not cfg.judge.server.address:
        judge = cfg.judge.server.model
        raise ConfigError(f"{where}: judge.server.model {judge!r}: judge models are not fetched; give a path")
    return cfg


def _check_address(model: ModelRun, request: EvalRequest) -> None:
    """Locally a server address must answer now. A cluster's jobs check it themselves (bounded, naming it), since
    only the compute nodes need to reach it: here it is a warning, and a dry run contacts nothing."""
    address = model.cfg.server.address
    if not address or request.dry_run:
        return
    api_key = os.environ.get(model.cfg.server.api_key_env) or None
    if request.cluster == "local":
        check_reachable(address, api_key=api_key)
        return
    try:
        check_reachable(address, timeout_s=3.0, api_key=api_key)
    except ConfigError as err:
        print(f"warning: {err} from this machine; the jobs will wait for it on the cluster", file=sys.stderr)


def _check_trackers(request: EvalRequest, backend: Backend) -> None:
    """The trackers must be reachable from here for a local run; a remote cluster's summary job logs from there."""
    if request.dry_run:
        return
    try:
        check_exports(request.models[0].cfg.export)
    except ConfigError as err:
        if not backend.remote:
            raise
        print(f"warning: {err} from this machine; the summary job logs from the cluster", file=sys.stderr)


def plan(request: EvalRequest, backend: Backend, model_cache: str | None = None) -> tuple[JobGraph, list[ModelJobs]]:
    """Prepare data, check prompts and servers, and build the graph of jobs still to run (every model's), with what
    each model added to it. `model_cache` (the cluster config's) is where hf://, s3:// and gs:// models go."""
    _check_trackers(request, backend)
    for model in request.models:
        server = model.cfg.server
        if not server.address and is_source_uri(server.model) and not backend.remote:
            parse_model_source(server.model, "model").check_installed()  # the fetch job's library, before it runs
    for model in request.models:
        for bench in request.benchmarks:
            benchmark = BENCHMARKS.get(bench.name)
            load_prompt(prompt_config_for(benchmark, model.cfg))  # also: does the benchmark know ++protocol?
            if GRADERS.get(benchmark.grader).needs_loglik_server:  # before anything starts: can this server score it?
                check_server_can_score(model.cfg.server.server_type, benchmark.name)
        _check_address(model, request)
        if not model.cfg.server.address and not backend.separate_components:
            SERVER_TYPES.get(model.cfg.server.server_type).check_startable_here()  # before any job starts
    data_files = {bench.name: prepare(bench.name) for bench in request.benchmarks}
    if backend.remote:
        data_files = _copy_into_run(data_files, RunLayout(request.output_dir))
    paths = backend.cluster_paths(request.output_dir)
    if model_cache is not None:
        if model_cache.startswith("~") and backend.remote:
            raise ConfigError(f"model_cache {model_cache}: a remote cluster needs an absolute folder")
        paths = dataclasses.replace(paths, model_cache=str(Path(model_cache).expanduser()))
    graph = JobGraph(request.output_dir)
    summaries = []
    added = []
    for model in request.models:
        jobs = add_model_jobs(
            graph, request.benchmarks, model.cfg, data_files, paths, backend.separate_components, model.name
        )
        added.append(jobs)
        if jobs.summarize:
            summaries.append(jobs.summarize)
    exports = export_args(request.models[0].cfg.export) if request.campaign else ()
    stale = not summary_complete(request.output_dir) or not exports_complete(request.output_dir, exports)
    if request.campaign and (summaries or stale):
        where = paths.remote_output_dir or str(request.output_dir)
        argv = (*paths.command("summarize_results"), where, *exports)
        graph.add(Job(name="compare", components=(Component("main", argv),), after_any=tuple(summaries)))
    return graph, added


def _copy_into_run(data_files: dict[str, Path], run: RunLayout) -> dict[str, Path]:
    """Copy prepared data into the run directory, which a remote cluster receives whole (unchanged copies stay)."""
    run.data_dir.mkdir(parents=True, exist_ok=True)
    copies = {}
    for name, source in data_files.items():
        target = run.data_file(name)
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)
        copies[name] = target
    return copies


def _write_records(request: EvalRequest, cost_per_gpu_hour: float | None) -> None:
    command = shlex.join(["python", "pipeline/eval.py", *request.argv])
    for model in request.models:
        run = model_run(request.output_dir, model.name)
        run.root.mkdir(parents=True, exist_ok=True)
        entry = model.entry
        published = entry.published if entry is not None and entry.published else None  # its summary compares too
        record = RunRecord(
            command=command,
            name=model.name or None,
            model=model.cfg.server.model or f"{model.cfg.server.server_type}-default",
            server_type=model.cfg.server.server_type,
            benchmarks=tuple(f"{b.name}:{b.seeds}" for b in request.benchmarks),
            cluster=request.cluster,
            cost_per_gpu_hour=cost_per_gpu_hour,
            config=flat_values(model.cfg),
            overrides=None if entry is None else tuple(entry.eval_overrides()),
            published=published,
            published_file=entry.published_file if entry is not None and published else None,
        )
        write_run_record(run.run_record, record)
    if request.campaign:
        write_campaign_record(
            campaign_record_file(request.output_dir),
            CampaignRecord(
                models=tuple(m.entry.campaign_model() for m in request.models if m.entry is not None),
                benchmarks=tuple(f"{b.name}:{b.seeds}" for b in request.benchmarks),
                cluster=request.cluster,
                command=command,
                cost_per_gpu_hour=cost_per_gpu_hour,
            ),
        )


def _print_dry_run(graph: JobGraph, paths: list[Path]) -> None:
    for path in paths:
        print(f"# {path}\n{path.read_text()}")
    print("# jobs and their dependencies, in submission order:")
    for job in graph.jobs:
        deps = [f"afterok: {', '.join(job.after_ok)}"] if job.after_ok else []
        deps += [f"afterany: {', '.join(job.after_any)}"] if job.after_any else []
        print(f"{job.name:<40} {'; '.join(deps) or 'no dependencies'}")


def main(argv: list[str]) -> int:
    request = parse_eval_args(argv)
    spec = load_cluster_spec(request.cluster, CONF_DIR)
    backend = create_backend(spec)
    graph, added = plan(request, backend, spec.model_cache)
    launch = build_launch_plan(
        graph,
        [PlannedModel(m.name, m.cfg, jobs) for m, jobs in zip(request.models, added, strict=True)],
        request.benchmarks,
        request.cluster,
        spec.cost_per_gpu_hour,
        sequential=backend.synchronous,
    )
    print(render_plan(launch), flush=True)
    _write_records(request, spec.cost_per_gpu_hour)
    if request.campaign and not request.dry_run:
        names = ", ".join(run.root.name for run in campaign_runs(request.output_dir))
        print(f"campaign of {len(request.models)} model(s): {names}")
    if request.dry_run:
        _print_dry_run(graph, backend.dry_run(graph))
        return 0
    if not graph.jobs:
        print(f"nothing to do: every step is complete in {request.output_dir}")
        return 0
    write_plan_records(launch, graph)
    handle = backend.submit(graph)
    if not backend.synchronous:
        record_submission(request.output_dir, spec, handle)
        for name, job_id in handle.job_ids.items():
            print(f"submitted {name}: job {job_id}")
        if not request.wait:
            print(f"status: python pipeline/status.py {request.output_dir}")
            return 0
    states = handle.wait(WAIT_TIMEOUT_S)
    handle.fetch_results()
    if not backend.synchronous:
        print(handle.report(states))
    handle.raise_for_failures(states)
    print(f"done: results in {request.output_dir}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
