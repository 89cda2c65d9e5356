"""Build the evaluation job graph from `--benchmarks b1:N,b2:M` and the composed EvalConfig.

Per model:
- generate: every (benchmark, seed, chunk) output file is a task; the tasks still to do are grouped into
  `num_jobs` server jobs (default one), each starting the model server once for all of its tasks;
- evaluate: one job per benchmark, after the server jobs holding its tasks (a judge server starts once for it);
- metrics: one job per benchmark, after its evaluate job;
- summarize: one job after every metrics job (afterany: it reports what is missing).
A step is left out when `nemo_pipeline.layout` says it is complete for these settings and its inputs did not
change; the backends submit exactly what the graph holds.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from nemo_pipeline.commands import command_argv
from nemo_pipeline.config import EvalConfig, GenerateConfig, SandboxConfig, ServerConfig, flat_values
from nemo_pipeline.datasets import BENCHMARKS, OFFICIAL, Benchmark
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.evaluation.graders import GRADERS
from nemo_pipeline.evaluation.judge_stage import judge_identity
from nemo_pipeline.inference.core import select_items
from nemo_pipeline.inference.servers import SERVER_TYPES, ServerSpec
from nemo_pipeline.jobs._graph import SANDBOX, Component, Job, JobGraph
from nemo_pipeline.jobs._stage_configs import (
    evaluate_config,
    generate_config,
    grader_for,
    hydra_value,
    stage_overrides,
)
from nemo_pipeline.jobs.ports import port_placeholder
from nemo_pipeline.jsonl import count_records_if_any, read_jsonl
from nemo_pipeline.layout import (
    REPO_ROOT,
    check_same_settings,
    chunk_file,
    done_marker,
    exports_complete,
    generated_ids,
    generation_settings,
    graded_marker,
    grading_stamp,
    is_complete,
    metrics_stamp,
    model_run,
    selection_stamp,
    summary_complete,
)
from nemo_pipeline.model_source import fetched_marker, is_source_uri, parse_model_source
from nemo_pipeline.trackers import export_args

__all__ = [
    "REPO_ROOT",
    "BenchmarkRequest",
    "ClusterPaths",
    "ModelJobs",
    "add_model_jobs",
    "build_eval_graph",
    "hydra_value",
    "parse_benchmarks",
    "selected_items",
]

_SPEC = re.compile(r"^([^:,\s]+)(?::(\d+))?$")


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
        requests.append(BenchmarkRequest(BENCHMARKS.get(name).name, seeds))
    names = [r.name for r in requests]
    if len(set(names)) != len(names):
        raise ConfigError(f"--benchmarks names a benchmark twice: {text}")
    return requests


def selected_items(bench: Benchmark, cfg: EvalConfig, data_file: Path) -> int:
    """Items one output file of `bench` holds under `cfg` (after `max_samples_per_subset` and `max_samples`), as the
    generate stage selects them; the data file is read only when a per-subset count needs it."""
    if cfg.max_samples_per_subset > 0:
        return len(select_items(read_jsonl(data_file), cfg.max_samples, 1, 0, cfg.max_samples_per_subset))
    return bench.num_items if cfg.max_samples < 0 else min(cfg.max_samples, bench.num_items)


def _chunk_items(items: int, num_chunks: int, chunk: int) -> int:
    """Items of one contiguous chunk, split as `inference.generate.select_items` splits them."""
    size, extra = divmod(items, num_chunks)
    return size + (1 if chunk < extra else 0)


@dataclass(frozen=True)
class ClusterPaths:
    """Where the jobs find things, as the machines that run them see them: the interpreter, the folder holding the
    `nemo_pipeline` package (on PYTHONPATH in cluster jobs), and (on a remote cluster) the run directory that
    mirrors the local output directory."""

    python: str = sys.executable
    code_root: str = str(REPO_ROOT)
    remote_output_dir: str | None = None  # None: jobs use the local output directory's paths
    model_cache: str | None = None  # where hf://, s3://, gs:// models are fetched (None: such a model is an error)

    def command(self, name: str) -> tuple[str, ...]:
        """The argv start of a pipeline command (`generate`, ...): `python -m nemo_pipeline.commands.generate`, which
        an installed package has too (a checkout's `pipeline/<name>.py` runs the same `main`)."""
        return (self.python, *command_argv(name))


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


def _sandbox_component(python: str) -> tuple[Component, str]:
    """The sandbox as its own component (cluster backends), on a port the job chooses when it starts, and its
    address."""
    # In rootless cluster containers some isolation layers may be missing; the sandbox names them at start.
    port = port_placeholder(SANDBOX)
    argv = (python, "-m", "nemo_pipeline.sandbox", "--host", "127.0.0.1", "--port", port)
    address = f"http://127.0.0.1:{port}"
    return Component(SANDBOX, argv, health_url=f"{address}/health"), address


def _server_component(server: ServerConfig, python: str, name: str = "server") -> tuple[Component, str] | None:
    """A model server as its own component (cluster backends), on a port the job chooses when it starts, and the
    address its client should use; None when the config names an address or a type that starts nothing. `python` is
    the jobs' interpreter, which a server type's launcher runs under to find the server's files where the job runs."""
    server_type = SERVER_TYPES.get(server.server_type)
    if server.address or server_type.launch is None:
        return None
    spec = ServerSpec(
        model=server.model,
        port=port_placeholder(name),
        gpus=server.gpus,
        tensor_parallel=server.tensor_parallel,
        parallel_requests=server.parallel_requests,
        context_length=server.context_length,
        extra_args=tuple(server.extra_args),
        launcher_python=python,
    )
    launch = server_type.launch(spec)
    component = Component(name, launch.argv, image=launch.image, health_url=launch.health_url, env=dict(launch.env))
    return component, launch.base_url


@dataclass(frozen=True)
class _Task:
    """One output file (a benchmark's seed and chunk) still to generate."""

    bench: Benchmark
    seed: int | None
    output_file: Path  # the chunk file, local path
    cfg: GenerateConfig  # paths as the jobs see them
    items: int  # items still to generate (selected minus those already in the file): balances the server jobs


# The keys each job command always names, even when equal to the stage's defaults: what a reader looks for.
_GENERATE_KEEP = ("input_file", "output_file", "inference.temperature", "inference.tokens_to_generate")
_EVALUATE_KEEP = ("input_files", "grader")


@dataclass
class ModelJobs:
    """What `add_model_jobs` added for one model: job names by stage, and whether everything was complete."""

    generate: list[str] = field(default_factory=list)
    evaluate: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    summarize: str | None = None  # None: the summary is up to date
    to_generate: dict[str, int] = field(default_factory=dict)  # benchmark -> generations still to make
    selected: dict[str, int] = field(default_factory=dict)  # benchmark -> items per output file


def _split(tasks: list[_Task], jobs: int) -> list[list[_Task]]:
    """Contiguous groups of tasks with about equal items (a benchmark's tasks stay together where they can)."""
    if jobs <= 0 or jobs >= len(tasks):
        return [[task] for task in tasks]
    weights = [max(1, t.items) for t in tasks]  # a task with nothing left still starts its server
    total = sum(weights)
    groups: list[list[_Task]] = [[] for _ in range(jobs)]
    done = 0
    for task, weight in zip(tasks, weights, strict=True):
        index = min(jobs - 1, int(done * jobs / total))
        # never leave a later group empty: move on when the remaining tasks just fill the remaining groups
        remaining = len(tasks) - sum(len(g) for g in groups)
        empty_after = sum(1 for g in groups[index + 1 :] if not g)
        if groups[index] and remaining <= empty_after:
            index += 1
        groups[index].append(task)
        done += weight
    return [g for g in groups if g]


def build_eval_graph(
    requests: Sequence[BenchmarkRequest],
    cfg: EvalConfig,
    output_dir: Path,
    data_files: dict[str, Path],
    paths: ClusterPaths | None = None,
    separate_components: bool = False,
) -> JobGraph:
    """The full graph of one model; jobs whose outputs are complete (and whose inputs did not change) are left out.

    With `separate_components` (cluster backends), the model server and the sandbox are components of their own
    (each can run in its own container image) and the client waits for their health; otherwise the stages start
    them as child processes. `paths` says where the jobs find the interpreter, the code and (on a remote cluster)
    the run directory; the data files must then lie inside the output directory, which is copied there.
    """
    graph = JobGraph(output_dir.resolve())
    add_model_jobs(graph, requests, cfg, data_files, paths, separate_components)
    return graph


def add_model_jobs(
    graph: JobGraph,
    requests: Sequence[BenchmarkRequest],
    cfg: EvalConfig,
    data_files: dict[str, Path],
    paths: ClusterPaths | None = None,
    separate_components: bool = False,
    run_dir: str = "",
) -> ModelJobs:
    """Add one model's jobs to `graph`; with `run_dir` (a campaign) they write into `<output_dir>/<run_dir>/` and
    their names start with `<run_dir>-`."""
    builder = _ModelBuilder(graph, cfg, data_files, paths or ClusterPaths(), separate_components, run_dir)
    return builder.build(requests)


class _ModelBuilder:
    def __init__(
        self,
        graph: JobGraph,
        cfg: EvalConfig,
        data_files: dict[str, Path],
        paths: ClusterPaths,
        separate_components: bool,
        run_dir: str,
    ) -> None:
        self.graph = graph
        self.where = _Where(paths, graph.output_dir)
        self.cfg, self.fetch = self._model_copy(cfg, paths)
        self.data_files = data_files
        self.python = paths.python
        self.separate = separate_components
        self.run_dir = run_dir
        self.run = model_run(graph.output_dir, run_dir)
        self.prefix = f"{run_dir}-" if run_dir else ""
        self.result = ModelJobs()
        self.shared_jobs: dict[str, bool] = {}  # server job -> it holds tasks of several benchmarks

    # -- model source ------------------------------------------------------------------------------------------
    def _model_copy(self, cfg: EvalConfig, paths: ClusterPaths) -> tuple[EvalConfig, Job | None]:
        """A model named by hf://, s3:// or gs:// is served from its copy in the model cache, which a fetch job
        makes first (left out when the copy is complete; one job however many models of the graph share it)."""
        server = cfg.server
        if server.address or not is_source_uri(server.model):
            return cfg, None
        source = parse_model_source(server.model, "server.model")
        if paths.model_cache is None:
            raise ConfigError(
                f"model {server.model}: this cluster config names no model_cache (a folder the nodes share, where "
                "hf://, s3:// and gs:// models are fetched once); add `model_cache: /shared/models` to it"
            )
        dest = source.cache_path(paths.model_cache)
        served = copy.deepcopy(cfg)
        served.server.model = dest
        if paths.remote_output_dir is None and is_complete(fetched_marker(Path(dest)), {"source": source.uri}):
            return served, None
        name = f"fetch-model-{hashlib.sha256(dest.encode()).hexdigest()[:8]}"
        argv = (*self.where.paths.command("fetch_model"), "--source", source.uri, "--dest", dest)
        return served, Job(name=name, components=(Component("main", argv),))

    # -- generate ----------------------------------------------------------------------------------------------
    def _tasks(self, bench: Benchmark, seeds: int) -> list[_Task]:
        cfg = self.cfg
        pending = []
        seed_list: list[int | None] = [None] if seeds == 0 else list(range(seeds))
        items = selected_items(bench, cfg, self.data_files[bench.name])
        self.result.selected[bench.name] = items
        for seed in seed_list:
            for chunk in range(cfg.num_chunks):
                out = chunk_file(self.run.output_file(bench.name, seed), chunk, cfg.num_chunks)
                gen = generate_config(cfg, bench, self.where(self.data_files[bench.name]), self.where(out), seed, chunk)
                gen.log_dir = None
                check_same_settings(out, generation_settings(flat_values(gen)))  # never mix settings in one file
                if not is_complete(done_marker(out), selection_stamp(gen)):
                    left = max(0, _chunk_items(items, cfg.num_chunks, chunk) - (count_records_if_any(out) or 0))
                    pending.append(_Task(bench, seed, out, gen, left))
        self.result.to_generate[bench.name] = sum(task.items for task in pending)
        return pending

    def _generate_job(self, name: str, tasks: list[_Task]) -> Job:
        first = tasks[0].cfg
        components: list[Component] = []
        gpus = 0 if first.server.address else first.server.gpus  # a given address: the server runs elsewhere
        job_cfg = GenerateConfig(
            server=copy.deepcopy(first.server), sandbox=copy.deepcopy(first.sandbox), progress=False
        )
        job_cfg.log_dir = self.where(self.run.log_dir(name[len(self.prefix) :]))
        if self.separate:
            started = _server_component(first.server, self.python)
            if started is not None:
                components.append(started[0])
                job_cfg.server.address = started[1]
            if any(t.cfg.code_execution for t in tasks) and not first.sandbox.address:
                sandbox, job_cfg.sandbox.address = _sandbox_component(self.python)
                components.append(sandbox)
        command = self.where.paths.command("generate")
        if len(tasks) == 1:
            task = tasks[0].cfg
            task.server, task.sandbox, task.log_dir = job_cfg.server, job_cfg.sandbox, job_cfg.log_dir
            argv = (*command, *stage_overrides(task, "generate", keep=_GENERATE_KEEP))
        else:
            tasks_file = self.run.job_tasks_file(name)
            tasks_file.parent.mkdir(parents=True, exist_ok=True)
            rendered = [stage_overrides(_task_only(t.cfg), "generate", keep=_GENERATE_KEEP) for t in tasks]
            tasks_file.write_text(json.dumps(rendered, indent=1) + "\n", encoding="utf-8")
            job_cfg.tasks_file = self.where(tasks_file)
            argv = (*command, *stage_overrides(job_cfg, "generate"))
        benches = {t.bench.name for t in tasks}
        return Job(
            name=name,
            components=(*components, Component("main", argv)),
            gpus=gpus,
            benchmark=benches.pop() if len(benches) == 1 else None,
            run_dir=self.run_dir,
            outputs=tuple(self.run.task_name(t.output_file) for t in tasks),
            items=sum(t.items for t in tasks),
            after_ok=() if self.fetch is None else (self.fetch.name,),
        )

    def _add_generate(self, pending: list[_Task]) -> dict[str, list[str]]:
        """Add the server jobs; returns, per benchmark, the jobs holding its tasks."""
        holders: dict[str, list[str]] = {}
        groups = _split(pending, self.cfg.num_jobs) if pending else []
        if groups and self.fetch is not None and self.fetch.name not in {job.name for job in self.graph.jobs}:
            self.graph.add(self.fetch)  # before the server jobs that serve its copy
        for number, group in enumerate(groups):
            if len(group) == 1:
                task = group[0]
                seed = "" if task.seed is None else f"-rs{task.seed}"
                chunk = f"-chunk{task.cfg.chunk_id}" if self.cfg.num_chunks > 1 else ""
                name = f"{self.prefix}generate-{task.bench.name}{seed}{chunk}"
            else:
                name = f"{self.prefix}generate" + (f"-{number}" if len(groups) > 1 else "")
            self.graph.add(self._generate_job(name, group))
            self.result.generate.append(name)
            self.shared_jobs[name] = len({task.bench.name for task in group}) > 1
            for task in group:
                holders.setdefault(task.bench.name, [])
                if name not in holders[task.bench.name]:
                    holders[task.bench.name].append(name)
        return holders

    # -- evaluate, metrics, summarize ---------------------------------------------------------------------------
    def _graded(self, bench: Benchmark, files: list[Path]) -> bool:
        grader = grader_for(bench, self.cfg)
        judge = judge_identity(self.cfg.judge) if GRADERS.get(grader).needs_judge else None
        for path in files:
            ids = generated_ids(path, self.cfg.num_chunks)
            if ids is None or not is_complete(graded_marker(path), grading_stamp(grader, judge, ids)):
                return False
        return True

    def _evaluate_job(self, bench: Benchmark, files: list[Path], after: list[str]) -> Job:
        name = f"{self.prefix}evaluate-{bench.name}"
        evaluate = evaluate_config(self.cfg, bench, [self.where(f) for f in files])
        evaluate.log_dir = self.where(self.run.log_dir(f"evaluate-{bench.name}"))
        evaluate.require_generated = True
        components: list[Component] = []
        gpus = 0
        if self.separate and GRADERS.get(evaluate.grader).needs_judge:
            started = _server_component(evaluate.judge.server, self.python, "judge-server")
            if started is not None:
                components.append(started[0])
                evaluate.judge.server.address = started[1]
                gpus = evaluate.judge.server.gpus
        if self.separate and GRADERS.get(evaluate.grader).needs_sandbox and not evaluate.sandbox.address:
            sandbox, evaluate.sandbox.address = _sandbox_component(self.python)
            components.append(sandbox)
        argv = (
            *self.where.paths.command("evaluate"),
            *stage_overrides(evaluate, "evaluate", keep=_EVALUATE_KEEP),
        )
        # A server job shared with other benchmarks may fail for their sake: wait for it to end (afterany) and let
        # the evaluate stage check that this benchmark's own files are complete (require_generated).
        shared = [name for name in after if self.shared_jobs.get(name, False)]
        return Job(
            name=name,
            components=(*components, Component("main", argv)),
            after_ok=tuple(n for n in after if n not in shared),
            after_any=tuple(shared),
            gpus=gpus,
            benchmark=bench.name,
            run_dir=self.run_dir,
            outputs=tuple(self.run.task_name(f) for f in files),
            items=self.result.selected.get(bench.name, 0) * len(files),
        )

    def _metrics_job(self, bench: Benchmark, files: list[Path], after: list[str]) -> Job:
        name = f"{self.prefix}metrics-{bench.name}"
        overrides = {
            "benchmark_dir": self.where(self.run.bench_dir(bench.name)),
            "input_files": [f.name for f in files],
        }
        if self.cfg.protocol != OFFICIAL:
            overrides["protocol"] = self.cfg.protocol
        argv = (
            *self.where.paths.command("compute_metrics"),
            *(f"++{k}={hydra_value(v)}" for k, v in overrides.items()),
        )
        return Job(
            name=name,
            components=(Component("main", argv),),
            after_ok=tuple(after),
            benchmark=bench.name,
            run_dir=self.run_dir,
        )

    def build(self, requests: Sequence[BenchmarkRequest]) -> ModelJobs:
        benches = [(BENCHMARKS.get(r.name), r.seeds) for r in requests]
        pending = {bench.name: self._tasks(bench, seeds) for bench, seeds in benches}
        holders = self._add_generate([task for tasks in pending.values() for task in tasks])
        up_to_date = True
        for bench, seeds in benches:
            files = self.run.output_files(bench.name, seeds)
            after = holders.get(bench.name, [])
            graded = not pending[bench.name] and self._graded(bench, files)
            if not graded:
                job = self._evaluate_job(bench, files, after)
                self.graph.add(job)
                self.result.evaluate.append(job.name)
                after = [job.name]
            stamp_file = self.run.metrics_stamp_file(bench.name)
            if graded and self.run.metrics_file(bench.name).exists() and is_complete(stamp_file, metrics_stamp(files)):
                continue
            up_to_date = False
            job = self._metrics_job(bench, files, after if not graded else [])
            self.graph.add(job)
            self.result.metrics.append(job.name)
        # A campaign's trackers are logged by its comparison job (one run per model, grouped), not per model.
        exports = () if self.run_dir else export_args(self.cfg.export)
        if up_to_date and summary_complete(self.run.root) and exports_complete(self.run.root, exports):
            return self.result
        name = f"{self.prefix}summarize"
        argv = (*self.where.paths.command("summarize_results"), self.where(self.run.root), *exports)
        self.graph.add(
            Job(
                name=name,
                components=(Component("main", argv),),
                after_any=tuple(self.result.metrics),
                run_dir=self.run_dir,
            )
        )
        self.result.summarize = name
        return self.result


def _task_only(cfg: GenerateConfig) -> GenerateConfig:
    """A task's settings without the job-level ones (server, sandbox, logs), which the job's command line gives."""
    return dataclasses.replace(cfg, server=ServerConfig(), sandbox=SandboxConfig(), log_dir=None, progress=True)
