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
    <run>/logs/<job>/main.log, logs/<job>/job.json      every job's output, and its wall time and GPUs

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
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nemo_pipeline.errors import DataError

__all__ = [
    "CONF_DIR",
    "PACKAGE_DIR",
    "REPO_ROOT",
    "JobRecord",
    "RunLayout",
    "campaign_record_file",
    "campaign_runs",
    "chunk_file",
    "client_stats_file",
    "directory_stamp",
    "done_marker",
    "export_marker",
    "export_stamp",
    "exports_complete",
    "generated_ids",
    "graded_marker",
    "grading_stamp",
    "ids_digest",
    "is_complete",
    "is_seed_file",
    "judge_checkpoint_file",
    "judge_settings_file",
    "metrics_stamp",
    "output_file_name",
    "progress_file",
    "progress_files",
    "read_marker",
    "seed_of",
    "settings_file",
    "sha256_file",
    "stage_log_dir",
    "summary_complete",
    "summary_stamp",
    "write_marker",
    "write_summary_stamp",
]

PACKAGE_DIR = Path(__file__).resolve().parent  # nemo_pipeline/
REPO_ROOT = PACKAGE_DIR.parent  # the folder holding the package: a checkout (pipeline/, conf/) or site-packages


def _conf_dir() -> Path:
    """An installed package's own copy of the configs when it has one, else the checkout's conf/."""
    packaged = PACKAGE_DIR / "conf"
    return packaged if (packaged / "eval.yaml").is_file() else REPO_ROOT / "conf"


CONF_DIR = _conf_dir()  # the stage configs (<stage>.yaml), cluster/, prompt/, benchmark/ and models/

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
    return Path(log_dir) if log_dir else output_file.parent / "logs"


def progress_file(output_file: Path) -> Path:
    """Items done of total while `output_file` is being generated (read by the progress display and status)."""
    return _beside(output_file, ".progress.json")


def progress_files(bench_dir: Path) -> list[Path]:
    """The output files (chunks included) of a benchmark folder that have a progress file."""
    suffix = ".progress.json"
    return sorted(p.with_name(p.name[: -len(suffix)]) for p in bench_dir.glob(f"output*.jsonl{suffix}"))


def write_marker(path: Path, stamp: Mapping[str, Any]) -> None:
    """Write a marker (or stamp file) atomically: a reader never sees half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(dict(stamp), sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_marker(path: Path) -> dict[str, Any] | None:
    """The stamp a marker records; None when it is missing or unreadable (an unreadable one is not complete)."""
    try:
        value = json.loads(path.read_text(encoding="utf-8") or "null")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


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


def generated_ids(output_file: Path, num_chunks: int = 1) -> list[str] | None:
    """The ids the generate step selected for `output_file` (over all its chunks), from the done markers; None when
    a chunk is not complete (or was made by hand, with no marker)."""
    ids: list[str] = []
    for chunk in range(num_chunks):
        recorded = read_marker(done_marker(chunk_file(output_file, chunk, num_chunks)))
        if recorded is None or not isinstance(recorded.get("ids"), list):
            return None
        ids.extend(str(i) for i in recorded["ids"])
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


def summary_stamp(run: RunLayout) -> dict[str, Any]:
    """What summary.json.stamp records: the metrics files (by content) the run's summary was made from."""
    return {"metrics": {b: sha256_file(run.metrics_file(b)) for b in run.benchmarks() if run.metrics_file(b).exists()}}


def campaign_record_file(output_dir: Path) -> Path:
    """`<output_dir>/campaign.json`: present when the directory holds a campaign (one run directory per model)."""
    return output_dir / "campaign.json"


def campaign_runs(output_dir: Path) -> list[RunLayout]:
    """The run directories of a campaign, in the order of its models file; [] when it is not a campaign."""
    record = read_marker(campaign_record_file(output_dir))
    if record is None:
        return []
    return [RunLayout(output_dir / str(model["name"])) for model in record.get("models", [])]


def directory_stamp(output_dir: Path) -> dict[str, Any]:
    """What a directory's summary is made from: its metrics files (a campaign: every model's), by content."""
    runs = campaign_runs(output_dir)
    if runs:
        return {"runs": {run.root.name: summary_stamp(run) for run in runs}}
    return summary_stamp(RunLayout(output_dir))


def write_summary_stamp(output_dir: Path) -> None:
    """Called by the summarize stage after writing the summary: a rerun with nothing new skips it."""
    write_marker(output_dir / "summary.json.stamp", directory_stamp(output_dir))


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
    return is_complete(output_dir / "summary.json.stamp", directory_stamp(output_dir))


@dataclass(frozen=True)
class JobRecord:
    """What one job cost: written to `logs/<job>/job.json` by whatever ran it, read by the summary."""

    job: str
    state: str  # a JobState value
    wall_s: float
    gpus: int = 0
    benchmark: str | None = None
    started_at: float = 0.0  # unix time
    ended_at: float = 0.0
    tasks: list[str] = field(default_factory=list)  # output files this job generated or graded, relative to run

    @property
    def gpu_hours(self) -> float:
        return self.gpus * self.wall_s / 3600.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobRecord:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class RunLayout:
    """The paths of one model's run directory."""

    root: Path

    # -- records of the run --------------------------------------------------------------------------------
    @property
    def run_record(self) -> Path:
        return self.root / "run.json"

    @property
    def plan_record(self) -> Path:
        """The launch plan's estimate for the jobs the last run started (compared with their job records)."""
        return self.root / "plan.json"

    @property
    def data_dir(self) -> Path:
        """Remote clusters: prepared data travels inside the run directory."""
        return self.root / "data"

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
        directory = self.bench_dir(benchmark)
        return sorted(p for p in directory.glob("output*.jsonl") if is_seed_file(p))

    def metrics_file(self, benchmark: str) -> Path:
        return self.bench_dir(benchmark) / "metrics.json"

    def metrics_stamp_file(self, benchmark: str) -> Path:
        return self.bench_dir(benchmark) / "metrics.json.stamp"

    def benchmarks(self) -> list[str]:
        """Benchmarks with a results folder in this run."""
        if not self.results_dir.is_dir():
            return []
        return sorted(p.name for p in self.results_dir.iterdir() if p.is_dir())

    # -- summary --------------------------------------------------------------------------------------------
    @property
    def summary_json(self) -> Path:
        return self.root / "summary.json"

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

    def log_dir(self, job: str) -> Path:
        return self.root / "logs" / job

    def main_log(self, job: str) -> Path:
        return self.log_dir(job) / "main.log"

    def job_record_file(self, job: str) -> Path:
        return self.log_dir(job) / "job.json"

    def write_job_record(self, record: JobRecord) -> None:
        write_marker(self.job_record_file(record.job), record.to_json())

    def job_records(self) -> list[JobRecord]:
        """Every job record of the run (jobs that never ended have none)."""
        logs = self.root / "logs"
        records = []
        for path in sorted(logs.glob("*/job.json")) if logs.is_dir() else []:
            data = read_marker(path)
            if data is not None:
                records.append(JobRecord.from_json(data))
        return records


def now() -> float:
    return time.time()
