"""The one owner of a run directory: every path, marker and stamp of a run, and "is this step complete".

A run directory (one model) looks like this::

    <run>/run.json                                      the command, model and benchmarks of the run
    <run>/plan.json                                     the estimate of the jobs the last run started
    <run>/eval-results/<benchmark>/output.jsonl         greedy answers; output-rs<seed>.jsonl per seed
    <run>/eval-results/<benchmark>/output*.jsonl.done   generation complete, with the selection it covers
    <run>/eval-results/<benchmark>/output*.jsonl.settings   generation settings the answers were made with
    <run>/eval-results/<benchmark>/output*.jsonl.graded     grading complete, with the grader (and judge)
    <run>/eval-results/<benchmark>/metrics.json         metrics (with the stamp of the files it covers)
    <run>/summary.{json,md,csv}, report.html
    <run>/export.json                                   the experiment trackers the summary was logged to
    <run>/jobs/<job>.sh | .sbatch, jobs/submit.sh       the exact command of every job
    <run>/logs/<job>/<component>.log, logs/<job>/job.json   every job's output, and its wall time and GPUs
    <run>/data/<benchmark>.jsonl                        remote clusters: the prepared data, inside the run

A campaign directory holds one run directory per model (`<out>/<name>/`) and the comparison summary. Stages,
the graph builder, the backends and the reports ask this module; nothing else composes these paths or parses
these markers.

It also owns where the code's own files are: `REPO_ROOT` (the folder holding the package: a checkout, or
site-packages when installed from a wheel) and `CONF_DIR`, the stage configs, which travel inside an installed
package as `nemo_pipeline/conf` (package data mapped from the checkout's `conf/`).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.records import (
    JobRecord,
    UnreadableRecordError,
    read_campaign_record,
    read_done_marker,
    read_job_record,
    read_marker,
    write_marker,
)

if TYPE_CHECKING:
    from nemo_pipeline.config import GenerateConfig

__all__ = [
    "CONF_DIR",
    "GENERATION_KEYS",
    "PACKAGE_DIR",
    "REPO_ROOT",
    "RunLayout",
    "SummaryFiles",
    "campaign_record_file",
    "campaign_runs",
    "cancelled_marker",
    "check_same_settings",
    "chunk_file",
    "client_stats_file",
    "component_log",
    "directory_stamp",
    "done_marker",
    "export_marker",
    "export_stamp",
    "exports_complete",
    "find_runs",
    "generated_ids",
    "generation_settings",
    "graded_marker",
    "grading_stamp",
    "ids_digest",
    "is_complete",
    "is_seed_file",
    "job_record_path",
    "judge_checkpoint_file",
    "judge_settings_file",
    "metrics_file",
    "metrics_stamp",
    "metrics_stamp_file",
    "model_run",
    "output_file_name",
    "output_files_in",
    "progress_file",
    "progress_files",
    "sandbox_log",
    "scheduler_log",
    "seed_of",
    "selection_stamp",
    "server_log",
    "settings_file",
    "sha256_file",
    "stage_log_dir",
    "summary_complete",
    "summary_stamp",
    "write_summary_stamp",
]

PACKAGE_DIR = Path(__file__).resolve().parent  # nemo_pipeline/
REPO_ROOT = PACKAGE_DIR.parent  # the folder holding the package: a checkout (pipeline/, conf/) or site-packages


def _conf_dir() -> Path:
    """An installed package's own copy of the configs when it has one, else the checkout's conf/."""
    packaged = PACKAGE_DIR / "conf"
    return packaged if (packaged / "eval.yaml").is_file() else REPO_ROOT / "conf"


CONF_DIR = _conf_dir()  # the stage configs (<stage>.yaml), cluster/, prompt/, benchmark/ and models/

_P = TypeVar("_P", bound=PurePath)  # a log folder here (Path) or on a cluster (PurePosixPath)
_RUN_RECORD = "run.json"
_LOGS = "logs"
_SEED_FILE = re.compile(r"^output(?:-rs(\d+))?\.jsonl$")


def output_file_name(seed: int | None) -> str:
    """`output.jsonl` for the greedy run, `output-rs<seed>.jsonl` for a sampled seed."""
    return "output.jsonl" if seed is None else f"output-rs{seed}.jsonl"


def seed_of(path: Path) -> int | None:
    """0.. for output-rs<seed>.jsonl, None for the greedy output.jsonl."""
    match = _SEED_FILE.match(path.name)
    if not match:
        raise DataError(f"{path}: not an output file (expected output.jsonl or output-rs<seed>.jsonl)")
    return None if match.group(1) is None else int(match.group(1))


def is_seed_file(path: Path) -> bool:
    return _SEED_FILE.match(path.name) is not None


def chunk_file(output_file: Path, chunk: int, num_chunks: int) -> Path:
    """The file one chunk of `output_file` is generated into (the file itself when there is one chunk)."""
    if num_chunks == 1:
        return output_file
    return output_file.with_name(output_file.name.replace(".jsonl", f"-chunk{chunk}.jsonl"))


def _beside(output_file: Path, suffix: str) -> Path:
    return output_file.with_name(output_file.name + suffix)


def done_marker(output_file: Path) -> Path:
    """Written when every selected item of `output_file` is generated; records the selection."""
    return _beside(output_file, ".done")


def settings_file(output_file: Path) -> Path:
    """The generation settings `output_file`'s answers were made with."""
    return _beside(output_file, ".settings")


def graded_marker(output_file: Path) -> Path:
    """Written when every item of `output_file` is graded; records the grader (and judge) and the selection."""
    return _beside(output_file, ".graded")


def judge_settings_file(output_file: Path) -> Path:
    """The identity of the judge that judged `output_file` (and filled its checkpoint)."""
    return _beside(output_file, ".judge-settings")


def judge_checkpoint_file(output_file: Path) -> Path:
    """Where judge outputs for `output_file` are appended as they finish (read back on a rerun)."""
    return _beside(output_file, ".judge")


def client_stats_file(output_file: Path) -> Path:
    """What the generation client saw while writing `output_file`: its concurrency and retries."""
    return _beside(output_file, ".client.json")


def stage_log_dir(log_dir: str | None, output_file: Path) -> Path:
    """Where a stage writes the logs of the servers and sandboxes it starts: its `log_dir` setting (a job's
    `logs/<job>`), else `logs/` beside `output_file` (a stage run by hand)."""
    return Path(log_dir) if log_dir else output_file.parent / _LOGS


def component_log(log_dir: _P, component: str) -> _P:
    """`<log_dir>/<component>.log`: the output of one component of a job (`main.log` for the main one)."""
    return log_dir / f"{component}.log"


def server_log(log_dir: Path, server_type: str, port: int) -> Path:
    """The log of a model server a stage starts itself."""
    return log_dir / f"server-{server_type}-{port}.log"


def sandbox_log(log_dir: Path) -> Path:
    """The log of a code sandbox a stage starts itself."""
    return log_dir / "sandbox.log"


def scheduler_log(log_dir: _P, job_id: str) -> _P:
    """`<log_dir>/slurm-<id>.log`: the scheduler's own log of a job (`%j` for the pattern an sbatch script names)."""
    return log_dir / f"slurm-{job_id}.log"


def job_record_path(log_dir: _P) -> _P:
    """`<log_dir>/job.json`: the `JobRecord` (nemo_pipeline.records) of the job whose log folder this is."""
    return log_dir / "job.json"


def cancelled_marker(log_dir: Path) -> Path:
    """`<log_dir>/cancelled.json`: why a job was cancelled before it ran (a backend that runs jobs itself)."""
    return log_dir / "cancelled.json"


def progress_file(output_file: Path) -> Path:
    """Items done of total while `output_file` is being generated (read by the progress display and status)."""
    return _beside(output_file, ".progress.json")


def progress_files(bench_dir: Path) -> list[Path]:
    """The output files (chunks included) of a benchmark folder that have a progress file."""
    suffix = ".progress.json"
    return sorted(p.with_name(p.name[: -len(suffix)]) for p in bench_dir.glob(f"output*.jsonl{suffix}"))


def output_files_in(bench_dir: Path) -> list[Path]:
    """Every output file (output.jsonl, output-rs<seed>.jsonl) of a benchmark folder, by name."""
    return sorted(p for p in bench_dir.glob("output*.jsonl") if is_seed_file(p))


def metrics_file(bench_dir: Path) -> Path:
    """`<bench_dir>/metrics.json`: the benchmark's metrics."""
    return bench_dir / "metrics.json"


def metrics_stamp_file(bench_dir: Path) -> Path:
    """`<bench_dir>/metrics.json.stamp`: the `metrics_stamp` metrics.json was computed for."""
    return _beside(metrics_file(bench_dir), ".stamp")


def is_complete(marker: Path, stamp: Mapping[str, Any]) -> bool:
    """True when `marker` exists and records every key of `stamp` with the same value.

    This is the one rule for "is this step complete for these settings": the graph builder and every backend
    ask it (through the graph), and each stage writes its marker only when its step is whole.
    """
    recorded = read_marker(marker)
    return recorded is not None and all(recorded.get(key) == value for key, value in stamp.items())


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks: a stamp that changes whenever the content does, and the
    checksum a pinned data source is checked against."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# The settings that decide what the model writes. An output file holds answers of one setting only: a rerun with
# other values is refused rather than mixed into it (the server's address and the request bounds may change).
GENERATION_KEYS = (
    "prompt_config",
    "inference.temperature",
    "inference.top_p",
    "inference.top_k",
    "inference.tokens_to_generate",
    "inference.random_seed",
    "inference.stop",
    "server.server_type",
    "server.model",
    "code_execution",
    "max_code_executions",
    "code_execution_timeout_s",
)


def generation_settings(flat: Mapping[str, Any]) -> dict[str, Any]:
    """What an output file's settings file records: the GENERATION_KEYS of a flat generate config."""
    return {key: flat[key] for key in GENERATION_KEYS}


def check_same_settings(output_file: Path, settings: Mapping[str, Any]) -> None:
    """ConfigError naming the changed settings when `output_file` was generated with others."""
    recorded = read_marker(settings_file(output_file))
    if recorded is None:
        return
    changed = [f"{k}: {recorded.get(k)!r} -> {v!r}" for k, v in settings.items() if recorded.get(k) != v]
    if changed:
        raise ConfigError(
            f"{output_file} was generated with other settings ({'; '.join(changed)}); its answers would be mixed "
            "with new ones. Use another output directory, or delete the file to start over"
        )


def selection_stamp(cfg: GenerateConfig) -> dict[str, int | None]:
    """What the done marker records besides the ids: a rerun with another selection must not be skipped.
    (`max_samples_per_subset` is None when unset, which markers written before it existed read as.)"""
    per_subset = cfg.max_samples_per_subset if cfg.max_samples_per_subset >= 0 else None
    return {
        "max_samples": cfg.max_samples,
        "max_samples_per_subset": per_subset,
        "num_chunks": cfg.num_chunks,
        "chunk_id": cfg.chunk_id,
    }


def generated_ids(output_file: Path, num_chunks: int = 1) -> list[str] | None:
    """The ids the generate step selected for `output_file` (over all its chunks), from the done markers; None when
    a chunk is not complete (or was made by hand, with no marker)."""
    ids: list[str] = []
    for chunk in range(num_chunks):
        recorded = read_done_marker(done_marker(chunk_file(output_file, chunk, num_chunks)))
        if recorded is None or recorded.ids is None:
            return None
        ids.extend(recorded.ids)
    return ids


def ids_digest(ids: list[str]) -> str:
    """A short stamp of a selection of item ids (order kept)."""
    return hashlib.sha256(json.dumps(ids).encode()).hexdigest()[:16]


def grading_stamp(grader: str, judge: Mapping[str, Any] | None, ids: list[str]) -> dict[str, Any]:
    """What a graded marker must record for its file to count as graded for this grader, judge and selection."""
    stamp: dict[str, Any] = {"grader": grader, "generated": ids_digest(ids)}
    if judge is not None:
        stamp["judge"] = dict(judge)
    return stamp


def metrics_stamp(graded_files: list[Path]) -> dict[str, Any]:
    """What metrics.json.stamp records: the graded markers (by content) metrics.json was computed from."""
    inputs = {}
    for path in graded_files:
        marker = graded_marker(path)
        inputs[path.name] = sha256_file(marker) if marker.exists() else None
    return {"inputs": inputs}


@dataclass(frozen=True)
class SummaryFiles:
    """The summary of a run or campaign directory: summary.{json,md,csv} and report.html (the report may be
    written elsewhere), and the stamp of what it was made from."""

    json: Path
    markdown: Path
    csv: Path
    html: Path

    @classmethod
    def of(cls, output_dir: Path, html: Path | None = None) -> SummaryFiles:
        return cls(
            output_dir / "summary.json",
            output_dir / "summary.md",
            output_dir / "summary.csv",
            html if html is not None else output_dir / "report.html",
        )

    @property
    def stamp(self) -> Path:
        """`summary.json.stamp`: the metrics files (by content) the summary was made from."""
        return _beside(self.json, ".stamp")

    def existing(self) -> tuple[Path, ...]:
        """The files that exist, the tables first (what an experiment tracker logs)."""
        return tuple(p for p in (self.markdown, self.csv, self.json, self.html) if p.is_file())


def summary_stamp(run: RunLayout) -> dict[str, Any]:
    """What summary.json.stamp records: the metrics files (by content) the run's summary was made from."""
    return {"metrics": {b: sha256_file(run.metrics_file(b)) for b in run.benchmarks() if run.metrics_file(b).exists()}}


def campaign_record_file(output_dir: Path) -> Path:
    """`<output_dir>/campaign.json`: present when the directory holds a campaign (one run directory per model)."""
    return output_dir / "campaign.json"


def model_run(output_dir: Path, name: str | None) -> RunLayout:
    """The run directory of one model: `<output_dir>/<name>/` in a campaign, `output_dir` itself when unnamed."""
    return RunLayout(output_dir / name if name else output_dir)


def campaign_runs(output_dir: Path) -> list[RunLayout]:
    """The run directories of a campaign, in the order of its models file; [] when it is not a campaign."""
    try:
        record = read_campaign_record(campaign_record_file(output_dir))
    except UnreadableRecordError:  # none, or not a JSON object: not a campaign (a bad key is a DataError)
        return []
    return [model_run(output_dir, model.name) for model in record.models]


def find_runs(output_root: Path) -> list[RunLayout]:
    """The run directories under `output_root`, up to two levels down (those holding a run.json)."""
    found: list[RunLayout] = []
    for pattern in (_RUN_RECORD, f"*/{_RUN_RECORD}", f"*/*/{_RUN_RECORD}"):
        found.extend(RunLayout(path.parent) for path in sorted(output_root.glob(pattern)))
    return found


def directory_stamp(output_dir: Path) -> dict[str, Any]:
    """What a directory's summary is made from: its metrics files (a campaign: every model's), by content."""
    runs = campaign_runs(output_dir)
    if runs:
        return {"runs": {run.root.name: summary_stamp(run) for run in runs}}
    return summary_stamp(RunLayout(output_dir))


def write_summary_stamp(output_dir: Path) -> None:
    """Called by the summarize stage after writing the summary: a rerun with nothing new skips it."""
    write_marker(SummaryFiles.of(output_dir).stamp, directory_stamp(output_dir))


def export_marker(output_dir: Path) -> Path:
    """`<output_dir>/export.json`: which trackers the summary was logged to, and from which metrics."""
    return output_dir / "export.json"


def export_stamp(output_dir: Path, export_args: Sequence[str]) -> dict[str, Any]:
    """What export.json records: the summarize options that logged it and the metrics (by content) it logged."""
    return {"export": list(export_args), "from": directory_stamp(output_dir)}


def exports_complete(output_dir: Path, export_args: Sequence[str]) -> bool:
    """True when nothing is to be logged, or the metrics present now were logged with these options."""
    return not export_args or is_complete(export_marker(output_dir), export_stamp(output_dir, export_args))


def summary_complete(output_dir: Path) -> bool:
    """True when the summary of `output_dir` (a run or a campaign) was made from the metrics present now."""
    return is_complete(SummaryFiles.of(output_dir).stamp, directory_stamp(output_dir))


@dataclass(frozen=True)
class RunLayout:
    """The paths of one model's run directory."""

    root: Path

    # -- records of the run --------------------------------------------------------------------------------
    @property
    def run_record(self) -> Path:
        """`run.json`: the command, model and benchmarks of the run."""
        return self.root / _RUN_RECORD

    @property
    def plan_record(self) -> Path:
        """The launch plan's estimate for the jobs the last run started (compared with their job records)."""
        return self.root / "plan.json"

    @property
    def data_dir(self) -> Path:
        """Remote clusters: prepared data travels inside the run directory."""
        return self.root / "data"

    def data_file(self, benchmark: str) -> Path:
        """A benchmark's prepared data, copied into the run for a remote cluster."""
        return self.data_dir / f"{benchmark}.jsonl"

    @property
    def results_dir(self) -> Path:
        return self.root / "eval-results"

    # -- benchmark results -----------------------------------------------------------------------------------
    def bench_dir(self, benchmark: str) -> Path:
        return self.results_dir / benchmark

    def output_file(self, benchmark: str, seed: int | None) -> Path:
        return self.bench_dir(benchmark) / output_file_name(seed)

    def output_files(self, benchmark: str, seeds: int) -> list[Path]:
        """The output files a `benchmark:seeds` request reads: output.jsonl for 0, else output-rs0..N-1."""
        if seeds == 0:
            return [self.output_file(benchmark, None)]
        return [self.output_file(benchmark, s) for s in range(seeds)]

    def existing_output_files(self, benchmark: str) -> list[Path]:
        """Every output file present for `benchmark`, whatever request made it."""
        return output_files_in(self.bench_dir(benchmark))

    def metrics_file(self, benchmark: str) -> Path:
        return metrics_file(self.bench_dir(benchmark))

    # -- tasks: the output files a job writes, named relative to the run in its job record ----------------------
    def task_name(self, output_file: Path) -> str:
        """`eval-results/<benchmark>/output*.jsonl`: how a job record names an output file of this run."""
        return str(output_file.relative_to(self.root))

    def task_file(self, task: str) -> Path:
        """The output file a job record's task names."""
        return self.root / task

    def task_benchmark(self, task: str) -> str | None:
        """The benchmark of a task ("eval-results/gsm8k/output-rs0.jsonl" -> gsm8k); None when it names none."""
        results = PurePosixPath(self.results_dir.relative_to(self.root).as_posix())
        parts = PurePosixPath(task).parts
        if len(parts) < len(results.parts) + 2 or PurePosixPath(*parts[: len(results.parts)]) != results:
            return None
        return parts[len(results.parts)]

    def metrics_stamp_file(self, benchmark: str) -> Path:
        return metrics_stamp_file(self.bench_dir(benchmark))

    def benchmarks(self) -> list[str]:
        """Benchmarks with a results folder in this run."""
        if not self.results_dir.is_dir():
            return []
        return sorted(p.name for p in self.results_dir.iterdir() if p.is_dir())

    # -- summary --------------------------------------------------------------------------------------------
    @property
    def summary(self) -> SummaryFiles:
        return SummaryFiles.of(self.root)

    # -- jobs -----------------------------------------------------------------------------------------------
    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    def job_script(self, job: str, suffix: str) -> Path:
        """`jobs/<job>.sh` (local), `.sbatch` (slurm), `.yaml` (skypilot)..."""
        return self.jobs_dir / f"{job}{suffix}"

    def job_tasks_file(self, job: str) -> Path:
        """The generate tasks a grouped server job runs, one override list per task."""
        return self.jobs_dir / f"{job}.tasks.json"

    @property
    def submit_script(self) -> Path:
        """Resubmits the whole chain by hand with the same dependencies."""
        return self.jobs_dir / "submit.sh"

    @property
    def submitted_record(self) -> Path:
        """Which backend submitted which jobs (ids), for status.py."""
        return self.jobs_dir / "submitted.json"

    @property
    def local_status(self) -> Path:
        """Every job's state as a local run goes (`jobs/local-status.json`), for status.py."""
        return self.jobs_dir / "local-status.json"

    def backend_record(self, backend: str) -> Path:
        """`jobs/<backend>.json`: what a backend keeps about the run's submission (nemo-run: its experiment)."""
        return self.jobs_dir / f"{backend}.json"

    def backend_home(self, backend: str) -> Path:
        """`jobs/<backend>/`: a folder a backend's own tool keeps its state in (nemo-run: NEMORUN_HOME)."""
        return self.jobs_dir / backend

    @classmethod
    def of_job_script(cls, script: Path) -> RunLayout:
        """The run a `job_script` belongs to."""
        return cls(script.parent.parent)

    @property
    def logs_dir(self) -> Path:
        """`logs/`: one folder per job."""
        return self.root / _LOGS

    def log_dir(self, job: str) -> Path:
        return self.logs_dir / job

    def main_log(self, job: str) -> Path:
        return component_log(self.log_dir(job), "main")

    def job_record_file(self, job: str) -> Path:
        return job_record_path(self.log_dir(job))

    def job_records(self) -> list[JobRecord]:
        """Every job record of the run (jobs that never ended have none). A job.json that cannot be read as a JSON
        object is left out, as a job that never ended; one with a bad key is a DataError naming it."""
        records = []
        pattern = job_record_path(Path("*")).as_posix()
        for path in sorted(self.logs_dir.glob(pattern)) if self.logs_dir.is_dir() else []:
            try:
                records.append(read_job_record(path))
            except UnreadableRecordError:
                continue
        return records


def now() -> float:
    return time.time()
