"""`pipeline/eval.py`: compose and validate everything locally, build the job graph, run it on a backend."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from nemo_pipeline.cli import split_overrides
from nemo_pipeline.config import EvalConfig, compose_config
from nemo_pipeline.datasets import prepare
from nemo_pipeline.errors import ConfigError, JobFailedError
from nemo_pipeline.inference._server_context import check_reachable
from nemo_pipeline.inference.prompts import load_prompt
from nemo_pipeline.inference.servers import SERVER_TYPES
from nemo_pipeline.jobs import JobGraph, LocalBackend, build_eval_graph, parse_benchmarks
from nemo_pipeline.jobs.eval_graph import BenchmarkRequest
from nemo_pipeline.jobs.local import JobState
from nemo_pipeline.process import tail

__all__ = ["EvalRequest", "main", "parse_eval_args", "plan"]


@dataclass(frozen=True)
class EvalRequest:
    cluster: str
    benchmarks: list[BenchmarkRequest]
    output_dir: Path
    cfg: EvalConfig
    dry_run: bool
    wait: bool
    argv: list[str]


def parse_eval_args(argv: list[str]) -> EvalRequest:
    """Parse and validate the command line; nothing is started or submitted here."""
    overrides, rest = split_overrides(argv)
    parser = argparse.ArgumentParser(prog="pipeline/eval.py", description="Evaluate a model on benchmarks.")
    parser.add_argument("--cluster", default="local", help="local, slurm, or a path to a cluster yaml")
    parser.add_argument("--benchmarks", required=True, help="comma-separated NAME[:SEEDS], e.g. gsm8k:0,humaneval:4")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--model", default=None, help="model path or served name (default: the embedded model)")
    parser.add_argument("--server_type", default=None, help=f"one of {', '.join(SERVER_TYPES.names())}")
    parser.add_argument("--server_address", default=None, help="OpenAI-compatible base URL of a running server")
    parser.add_argument("--server_gpus", type=int, default=None)
    parser.add_argument("--dry_run", action="store_true", help="write the job scripts and print them; run nothing")
    parser.add_argument("--wait", action="store_true", help="(slurm) wait for the jobs and report their states")
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
    cfg = compose_config(EvalConfig, "eval", [*server_overrides, *overrides])
    SERVER_TYPES.get(cfg.server.server_type)
    if cfg.server.server_type == "openai" and not cfg.server.address:
        raise ConfigError("--server_type openai needs --server_address (an OpenAI-compatible base URL)")
    if cfg.num_chunks < 1:
        raise ConfigError(f"num_chunks must be >= 1, got {cfg.num_chunks}")
    return EvalRequest(
        cluster=args.cluster,
        benchmarks=benchmarks,
        output_dir=Path(args.output_dir).resolve(),
        cfg=cfg,
        dry_run=args.dry_run,
        wait=args.wait,
        argv=list(argv),
    )


def plan(request: EvalRequest) -> JobGraph:
    """Prepare data, check prompts and the server address, and build the graph of jobs still to run."""
    from nemo_pipeline.datasets import BENCHMARKS

    for bench in request.benchmarks:
        load_prompt(request.cfg.prompt_config or BENCHMARKS.get(bench.name).prompt_config)
    if request.cfg.server.address:
        api_key = os.environ.get(request.cfg.server.api_key_env) or None
        check_reachable(request.cfg.server.address, api_key=api_key)
    data_files = {bench.name: prepare(bench.name) for bench in request.benchmarks}
    if request.cluster == "local":
        if not request.cfg.server.address:
            SERVER_TYPES.get(request.cfg.server.server_type).check_startable_here()  # before any job starts
        return build_eval_graph(request.benchmarks, request.cfg, request.output_dir, data_files)
    from nemo_pipeline.jobs.slurm_eval import cluster_paths, resolve_cluster

    _, cluster = resolve_cluster(request.cluster)
    paths = cluster_paths(cluster, request.output_dir)
    if cluster.remote:
        data_files = _copy_into_run(data_files, request.output_dir / "data")
    return build_eval_graph(
        request.benchmarks, request.cfg, request.output_dir, data_files, paths, separate_components=True
    )


def _copy_into_run(data_files: dict[str, Path], data_dir: Path) -> dict[str, Path]:
    """Copy prepared data into the run directory, which a remote cluster receives whole (unchanged copies stay)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    copies = {}
    for name, source in data_files.items():
        target = data_dir / f"{name}.jsonl"
        if not target.exists() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)
        copies[name] = target
    return copies


def _write_run_record(request: EvalRequest) -> None:
    request.output_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "command": shlex.join(["python", "pipeline/eval.py", *request.argv]),
        "model": request.cfg.server.model or f"{request.cfg.server.server_type}-default",
        "server_type": request.cfg.server.server_type,
        "benchmarks": [f"{b.name}:{b.seeds}" for b in request.benchmarks],
        "cluster": request.cluster,
    }
    (request.output_dir / "run.json").write_text(json.dumps(record, indent=2) + "\n")


def main(argv: list[str]) -> int:
    request = parse_eval_args(argv)
    graph = plan(request)
    _write_run_record(request)
    if request.cluster == "local":
        backend = LocalBackend()
        if request.dry_run:
            for path in backend.write_scripts(graph):
                print(f"# {path}\n{path.read_text()}")
            return 0
        run = backend.submit(graph)
        if not run.ok:
            failures = "; ".join(f"{o.name}: {o.state.value} {o.reason} (log: {o.log_path})" for o in run.failures())
            tails = [
                f"--- last lines of {o.log_path} ---\n{tail(o.log_path, 15)}"
                for o in run.failures()
                if o.state is JobState.FAILED and o.log_path is not None
            ]
            raise JobFailedError("\n".join([f"{len(run.failures())} job(s) did not complete: {failures}", *tails]))
        print(f"done: results in {request.output_dir}")
        return 0
    from nemo_pipeline.jobs.slurm_eval import submit_to_slurm

    return submit_to_slurm(request, graph)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
