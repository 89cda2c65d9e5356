"""What the report says about each model: campaign.json of a multi-model run, or run.json of a single run."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nemo_pipeline.errors import DataError
from nemo_pipeline.layout import RunLayout, campaign_record_file, campaign_runs
from nemo_pipeline.records import UnreadableRecordError, read_json_object, read_run_record

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


def _rate(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise DataError(f"{where}: cost_per_gpu_hour should be a number >= 0 or null, got {value!r}")
    return float(value)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(value)


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DataError(f"{where}: expected a string, got {value!r}")
    return value


def read_campaign(directory: Path) -> Campaign:
    """Parse `<directory>/campaign.json`; raise DataError naming the file and the bad key."""
    path = campaign_record_file(directory)
    data = read_json_object(path)
    models_data = data.get("models")
    if not isinstance(models_data, list) or not models_data:
        raise DataError(f"{path}: 'models' should be a non-empty list, got {models_data!r}")
    models = []
    for index, entry in enumerate(models_data):
        where = f"{path}: models[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            raise DataError(f"{where}: expected an object with a non-empty 'name', got {str(entry)[:80]!r}")
        name = entry["name"]
        if "/" in name or name in (".", ".."):
            raise DataError(f"{where}: name {name!r} is not a folder name")
        models.append(
            ModelInfo(
                name=name,
                model=_text(entry.get("model"), f"{where}.model"),
                server_type=_text(entry.get("server_type"), f"{where}.server_type"),
                overrides=_strings(entry.get("overrides"), f"{where}.overrides"),
                baseline=entry.get("baseline") is True,
                published=_text(entry.get("published"), f"{where}.published"),
                published_file=_text(entry.get("published_file"), f"{where}.published_file"),
            )
        )
    names = [m.name for m in models]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise DataError(f"{path}: model names must be unique, repeated: {duplicates}")
    baselines = [m.name for m in models if m.baseline]
    if len(baselines) > 1:
        raise DataError(f"{path}: more than one model has baseline: true ({baselines}); mark exactly one")
    return Campaign(
        directory=directory,
        models=tuple(models),
        benchmarks=_strings(data.get("benchmarks"), f"{path}: benchmarks"),
        cluster=_text(data.get("cluster"), f"{path}: cluster"),
        cost_per_gpu_hour=_rate(data.get("cost_per_gpu_hour"), str(path)),
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
