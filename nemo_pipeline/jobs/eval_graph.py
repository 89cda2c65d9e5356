"""Build the evaluation job graph from `--benchmarks b1:N,b2:M` and the composed EvalConfig.

Per benchmark and seed (and chunk): a generate job (it starts its own server unless an address is given);
an evaluate job per output file after its generate jobs; a compute-metrics job after every evaluate job of the
benchmark; one summarize job after every metrics job (afterany: it reports what is missing).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from nemo_pipeline.config import EvalConfig, GenerateConfig, JudgeConfig, ServerConfig, flat_values
from nemo_pipeline.datasets import BENCHMARKS, Benchmark
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.evaluation.judge_stage import JUDGE_GRADERS, judge_grader, judge_identity, judge_overrides
from nemo_pipeline.inference.generate import check_same_settings, generation_settings
from nemo_pipeline.inference.servers import SERVER_TYPES, ServerSpec
from nemo_pipeline.jobs._graph import Component, Job, JobGraph

__all__ = ["REPO_ROOT", "BenchmarkRequest", "ClusterPaths", "build_eval_graph", "hydra_value", "parse_benchmarks"]

REPO_ROOT = Path(__file__).resolve().parents[2]
# Strings Hydra reads back unchanged without quotes; anything else is quoted.
_PLAIN = re.compile(r"^[A-Za-z_/.][A-Za-z0-9_/.\-]*$")
_SPEC = re.compile(r"^([A-Za-z0-9_.\-]+)(?::(\d+))?$")


@dataclass(frozen=True)
class BenchmarkRequest:
    name: str
    seeds: int  # 0: one greedy run; N: N sampled runs with seeds 0..N-1


def parse_benchmarks(text: str) -> list[BenchmarkRequest]:
    """Parse `gsm8k:0,humaneval:4` (a missing `:N` means 0); unknown names list the known ones."""
    requests = []
    for part in (p.strip() for p in text.split(",")):
        match = _SPEC.match(part)
        if not match:
            raise ConfigError(f"--benchmarks: '{part}' is not of the form NAME or NAME:SEEDS (e.g. gsm8k:0, gsm8k:4)")
        name, seeds = match.group(1), int(match.group(2) or 0)
        BENCHMARKS.get(name)
        requests.append(BenchmarkRequest(name, seeds))
    names = [r.name for r in requests]
    if len(set(names)) != len(names):
        raise ConfigError(f"--benchmarks names a benchmark twice: {text}")
    return requests


def hydra_value(value: object) -> str:
    """Render a Python value as a Hydra override value (strings always quoted)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    text = str(value)
    if _PLAIN.match(text) and text.lower() not in {"null", "true", "false", "nan", "inf"}:
        return text
    text = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


@dataclass(frozen=True)
class ClusterPaths:
    """Where the jobs find things, as the machines that run them see them: the interpreter, the checkout holding
    `pipeline/`, and (on a remote cluster) the run directory that mirrors the local output directory."""

    python: str = sys.executable
    code_root: str = str(REPO_ROOT)
    remote_output_dir: str | None = None  # None: jobs use the local output directory's paths

    def script(self, name: str) -> str:
        return f"{self.code_root}/pipeline/{name}"


class _Where:
    """Renders local paths for job commands: paths inside the output directory move to the remote run directory."""

    def __init__(self, paths: ClusterPaths, output_dir: Path) -> None:
        self.paths = paths
        self.output_dir = output_dir

    def __call__(self, path: Path) -> str:
        if self.paths.remote_output_dir is None:
            return str(path)
        try:
            inside = path.relative_to(self.output_dir)
        except ValueError:
            raise ConfigError(
                f"{path} is outside the output directory {self.output_dir}, so a remote cluster cannot see it"
            ) from None
        return str(PurePosixPath(self.paths.remote_output_dir) / inside.as_posix())


def _overrides(values: dict[str, object]) -> list[str]:
    return [f"++{key}={hydra_value(value)}" for key, value in values.items()]


def _output_name(seed: int | None) -> str:
    return "output.jsonl" if seed is None else f"output-rs{seed}.jsonl"


def _chunk_name(seed: int | None, chunk: int, num_chunks: int) -> str:
    base = _output_name(seed)
    return base if num_chunks == 1 else base.replace(".jsonl", f"-chunk{chunk}.jsonl")


def _sandbox_component(python: str, port: int) -> Component:
    # In rootless cluster containers some isolation layers may be missing; the sandbox names them at start.
    argv = (python, "-m", "nemo_pipeline.sandbox", "--host", "127.0.0.1", "--port", str(port))
    return Component("sandbox", argv, health_url=f"http://127.0.0.1:{port}/health")


def _server_component(server: ServerConfig, port: int, name: str = "server") -> tuple[Component, str] | None:
    """A model server as its own component (cluster backends), and the address its client should use; None when
    the config names an address or a type that starts nothing."""
    server_type = SERVER_TYPES.get(server.server_type)
    if server.address or server_type.launch is None:
        return None
    spec = ServerSpec(
        model=server.model,
        port=port,
        gpus=server.gpus,
        tensor_parallel=server.tensor_parallel,
        parallel_requests=server.parallel_requests,
        context_length=server.context_length,
        extra_args=tuple(server.extra_args),
    )
    launch = server_type.launch(spec)
    return Component(name, launch.argv, image=launch.image, health_url=launch.health_url), launch.base_url


def _generate_job(
    cfg: EvalConfig,
    bench: Benchmark,
    data: Path,
    out: Path,
    seed: int | None,
    chunk: int,
    where: _Where,
    name: str,
    server_port: int | None,
    sandbox_port: int | None,
) -> Job:
    python, output_dir = where.paths.python, where.output_dir
    temperature = cfg.inference.temperature
    if temperature is None:
        temperature = 0.0 if seed is None else bench.seeds_temperature
    values: dict[str, object] = {
        "input_file": where(data),
        "output_file": where(out),
        "prompt_config": cfg.prompt_config or bench.prompt_config,
        "max_samples": cfg.max_samples,
        "num_chunks": cfg.num_chunks,
        "chunk_id": chunk,
        "max_concurrent_requests": cfg.max_concurrent_requests,
        "request_timeout_s": cfg.request_timeout_s,
        "max_retries": cfg.max_retries,
        "code_execution": cfg.code_execution,
        "max_code_executions": cfg.max_code_executions,
        "code_execution_timeout_s": cfg.code_execution_timeout_s,
        "log_dir": where(output_dir / "logs" / name),
        "inference.temperature": temperature,
        "inference.top_p": cfg.inference.top_p,
        "inference.top_k": cfg.inference.top_k,
        "inference.tokens_to_generate": cfg.inference.tokens_to_generate or bench.tokens_to_generate,
        "inference.random_seed": cfg.inference.random_seed if seed is None else seed,
        "inference.stop": list(cfg.inference.stop),
        "server.server_type": cfg.server.server_type,
        "server.address": cfg.server.address,
        "server.model": cfg.server.model,
        "server.port": cfg.server.port,
        "server.gpus": cfg.server.gpus,
        "server.tensor_parallel": cfg.server.tensor_parallel,
        "server.parallel_requests": cfg.server.parallel_requests,
        "server.context_length": cfg.server.context_length,
        "server.start_timeout_s": cfg.server.start_timeout_s,
        "server.api_key_env": cfg.server.api_key_env,
        "server.extra_args": list(cfg.server.extra_args),
        "sandbox.address": cfg.sandbox.address,
        "sandbox.start_timeout_s": cfg.sandbox.start_timeout_s,
        "progress": False,
    }
    check_same_settings(out, generation_settings(values))  # a changed setting must not mix into old answers
    components: list[Component] = []
    server = _server_component(cfg.server, server_port) if server_port is not None else None
    if server is not None:
        components.append(server[0])
        values["server.address"] = server[1]
    if cfg.code_execution and sandbox_port is not None and not cfg.sandbox.address:
        components.append(_sandbox_component(python, sandbox_port))
        values["sandbox.address"] = f"http://127.0.0.1:{sandbox_port}"
    always = {"input_file", "output_file", "inference.temperature", "inference.tokens_to_generate"}
    values = _without_defaults(values, flat_values(GenerateConfig), keep=always)
    argv = (python, where.paths.script("generate.py"), *_overrides(values))
    return Job(
        name=name,
        components=(*components, Component("main", argv)),
        done_file=str(out.relative_to(output_dir)) + ".done",
        gpus=cfg.server.gpus,
        benchmark=bench.name,
    )


_UNSET = object()


def _without_defaults(
    values: dict[str, object], defaults: dict[str, object], keep: set[str] | frozenset[str] = frozenset()
) -> dict[str, object]:
    """The overrides that differ from the stage schema's `defaults` (and those in `keep`): shorter job commands."""
    return {k: v for k, v in values.items() if k in keep or defaults.get(k, _UNSET) != v}


def _stamp(cfg: EvalConfig, chunk: int) -> dict[str, int]:
    return {"max_samples": cfg.max_samples, "num_chunks": cfg.num_chunks, "chunk_id": chunk}


def build_eval_graph(
    requests: Sequence[BenchmarkRequest],
    cfg: EvalConfig,
    output_dir: Path,
    data_files: dict[str, Path],
    paths: ClusterPaths | None = None,
    separate_components: bool = False,
) -> JobGraph:
    """The full graph; jobs whose outputs are already complete (and whose inputs did not change) are left out.

    With `separate_components` (cluster backends), the model server and the sandbox are components of their own
    (each can run in its own container image) and the client waits for their health; otherwise the stages start
    them as child processes. Each job's server gets its own port, so jobs sharing a node do not collide.
    `paths` says where the jobs find the interpreter, the code and (on a remote cluster) the run directory; the
    data files must then lie inside the output directory, which is copied there.
    """
    ports = iter(range(SERVER_TYPES.get(cfg.server.server_type).default_port, 65536))
    output_dir = output_dir.resolve()
    where = _Where(paths or ClusterPaths(), output_dir)
    python = where.paths.python
    graph = JobGraph(output_dir)
    complete: set[str] = set()

    def add(job: Job, stamp: dict[str, object] | None) -> None:
        deps_complete = all(dep in complete for dep in job.dependencies)
        if job.done_file and deps_complete and _done(output_dir / job.done_file, stamp):
            complete.add(job.name)
            return
        graph.add(
            Job(
                name=job.name,
                components=job.components,
                after_ok=tuple(d for d in job.after_ok if d not in complete),
                after_any=tuple(d for d in job.after_any if d not in complete),
                done_file=job.done_file,
                gpus=job.gpus,
                benchmark=job.benchmark,
            )
        )

    metrics_jobs = []
    for request in requests:
        bench = BENCHMARKS.get(request.name)
        bench_dir = output_dir / "eval-results" / bench.name
        seeds: list[int | None] = [None] if request.seeds == 0 else list(range(request.seeds))
        evaluate_jobs = []
        for seed in seeds:
            suffix = "" if seed is None else f"-rs{seed}"
            gen_names = []
            for chunk in range(cfg.num_chunks):
                name = f"generate-{bench.name}{suffix}" + (f"-chunk{chunk}" if cfg.num_chunks > 1 else "")
                out = bench_dir / _chunk_name(seed, chunk, cfg.num_chunks)
                port = next(ports) if separate_components else None
                code_port = next(ports) if separate_components and cfg.code_execution else None
                job = _generate_job(cfg, bench, data_files[bench.name], out, seed, chunk, where, name, port, code_port)
                add(job, dict(_stamp(cfg, chunk)))
                gen_names.append(name)
            output_file = bench_dir / _output_name(seed)
            chunk_files = [where(bench_dir / _chunk_name(seed, c, cfg.num_chunks)) for c in range(cfg.num_chunks)]
            name = f"evaluate-{bench.name}{suffix}"
            grader = _grader_for(bench, cfg)
            evaluate_values: dict[str, object] = {
                "input_files": [where(output_file)],
                "grader": grader,
                "grading.timeout_s": cfg.grading.timeout_s,
                "grading.workers": cfg.grading.workers,
                "sandbox.address": cfg.sandbox.address,
                "sandbox.start_timeout_s": cfg.sandbox.start_timeout_s,
            }
            if cfg.num_chunks > 1:
                evaluate_values["merge_chunks"] = chunk_files
            judge_server: tuple[Component, ...] = ()
            if grader in JUDGE_GRADERS:
                evaluate_values["log_dir"] = where(output_dir / "logs" / name)
                evaluate_values.update(_changed_judge_settings(cfg.judge))
                started = (
                    _server_component(cfg.judge.server, next(ports), "judge-server") if separate_components else None
                )
                if started is not None:
                    judge_server = (started[0],)
                    evaluate_values["judge.server.address"] = started[1]
            sandbox: tuple[Component, ...] = ()
            if separate_components and bench.needs_sandbox and not cfg.sandbox.address:
                sandbox_port = next(ports)
                sandbox = (_sandbox_component(python, sandbox_port),)
                evaluate_values["sandbox.address"] = f"http://127.0.0.1:{sandbox_port}"
            evaluate_argv = (python, where.paths.script("evaluate.py"), *_overrides(evaluate_values))
            add(
                Job(
                    name=name,
                    components=(*judge_server, *sandbox, Component("main", evaluate_argv)),
                    after_ok=tuple(gen_names),
                    done_file=str(output_file.relative_to(output_dir)) + ".graded",
                    gpus=cfg.judge.server.gpus if judge_server else 0,
                    benchmark=bench.name,
                ),
                {"grader": grader, **({"judge": judge_identity(cfg.judge)} if grader in JUDGE_GRADERS else {})},
            )
            evaluate_jobs.append(name)
        name = f"metrics-{bench.name}"
        add(
            Job(
                name=name,
                components=(
                    Component(
                        "main",
                        (
                            python,
                            where.paths.script("compute_metrics.py"),
                            *_overrides({"benchmark_dir": where(bench_dir)}),
                        ),
                    ),
                ),
                after_ok=tuple(evaluate_jobs),
                done_file=str((bench_dir / "metrics.json").relative_to(output_dir)),
                benchmark=bench.name,
            ),
            None,
        )
        metrics_jobs.append(name)
    summarize = (python, where.paths.script("summarize_results.py"), where(output_dir))
    graph.add(
        Job(
            name="summarize",
            components=(Component("main", summarize),),
            after_any=tuple(j for j in metrics_jobs if j not in complete),
        )
    )
    return graph


def _grader_for(bench: Benchmark, cfg: EvalConfig) -> str:
    """A judged benchmark is graded by the grader of the configured judge mode (`++judge.mode=pairwise`)."""
    return judge_grader(cfg.judge.mode) if bench.grader in JUDGE_GRADERS else bench.grader


def _changed_judge_settings(judge: JudgeConfig) -> dict[str, object]:
    return _without_defaults(judge_overrides(judge), judge_overrides(JudgeConfig()))


def _done(path: Path, stamp: dict[str, object] | None) -> bool:
    if not path.exists():
        return False
    if stamp is None:
        return True
    try:
        recorded = json.loads(path.read_text() or "null")
    except json.JSONDecodeError:
        return False
    return isinstance(recorded, dict) and all(recorded.get(k) == v for k, v in stamp.items())
