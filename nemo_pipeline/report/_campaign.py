"""What the report says about each model: campaign.json of a multi-model run, or run.json of a single run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nemo_pipeline.layout import RunLayout, campaign_record_file, campaign_runs
from nemo_pipeline.records import UnreadableRecordError, read_campaign_record, read_run_record

__all__ = ["Campaign", "ModelInfo", "is_campaign", "read_campaign", "read_run_info"]


@dataclass(frozen=True)
class ModelInfo:
    """Which model a run evaluated and how it was served."""

    name: str
    model: str = ""
    server_type: str = ""
    overrides: tuple[str, ...] = ()
    baseline: bool = False
    cost_per_gpu_hour: float | None = None  # a single run's own rate (run.json); campaigns set one for all
    published: str = ""  # the published model to compare it with ("": none)
    published_file: str = ""  # the user's file of published scores that names it ("": the shipped file only)

    def describe(self) -> str:
        """One line: model path, server type and overrides."""
        parts = [self.model or "(model not recorded)"]
        if self.server_type:
            parts.append(f"served by {self.server_type}")
        if self.overrides:
            parts.append("overrides " + " ".join(self.overrides))
        return ", ".join(parts)


@dataclass(frozen=True)
class Campaign:
    """campaign.json: the models (run directories `<directory>/<name>/`), benchmarks and the GPU-hour rate."""

    directory: Path
    models: tuple[ModelInfo, ...]
    benchmarks: tuple[str, ...]  # "gsm8k:4" as requested
    cluster: str = ""
    cost_per_gpu_hour: float | None = None
    run_dirs: dict[str, Path] = field(default_factory=dict)  # model name -> its run directory (from the layout)

    @property
    def baseline(self) -> ModelInfo | None:
        return next((m for m in self.models if m.baseline), None)

    @property
    def benchmark_names(self) -> tuple[str, ...]:
        """The benchmark folder names ("gsm8k" for "gsm8k:4")."""
        return tuple(spec.split(":", 1)[0] for spec in self.benchmarks)

    def run_dir(self, model: ModelInfo) -> Path:
        return self.run_dirs[model.name]


def is_campaign(directory: Path) -> bool:
    return campaign_record_file(directory).is_file()


def read_campaign(directory: Path) -> Campaign:
    """Parse `<directory>/campaign.json`; raise DataError naming the file and the bad key."""
    record = read_campaign_record(campaign_record_file(directory))
    models = tuple(
        ModelInfo(
            name=model.name,
            model=model.model,
            server_type=model.server_type or "",
            overrides=model.overrides,
            baseline=model.baseline,
            published=model.published or "",
            published_file=model.published_file or "",
        )
        for model in record.models
    )
    return Campaign(
        directory=directory,
        models=models,
        benchmarks=record.benchmarks,
        cluster=record.cluster,
        cost_per_gpu_hour=record.cost_per_gpu_hour,
        run_dirs={layout.root.name: layout.root for layout in campaign_runs(directory)},
    )


def read_run_info(directory: Path, name: str) -> ModelInfo:
    """The model of a single run from its run.json (empty fields when the file is missing or unreadable)."""
    path = RunLayout(directory).run_record
    if not path.is_file():
        return ModelInfo(name)
    try:
        record = read_run_record(path)
    except UnreadableRecordError:
        return ModelInfo(name)
    return ModelInfo(
        name=name,
        model=record.model,
        server_type=record.server_type,
        overrides=record.overrides or (),
        cost_per_gpu_hour=record.cost_per_gpu_hour,
        published=record.published or "",
        published_file=record.published_file or "",
    )
