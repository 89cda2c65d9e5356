"""campaign.json (`CampaignRecord`): the models a campaign compares (one run directory `<out>/<name>/` each), how each
was run, its benchmarks and GPU-hour rate. Written by `pipeline_eval` from the models file, read by the report and
by `layout.campaign_runs`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nemo_pipeline.errors import DataError
from nemo_pipeline.jsonl import write_text_atomic
from nemo_pipeline.records._base import check_version, cost_rate, read_json_object

CAMPAIGN_SCHEMA_VERSION = 1


def _text(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise DataError(f"{where}: expected a string, got {value!r}")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(value)


@dataclass(frozen=True)
class CampaignModel:
    """One model of campaign.json, as its entry in the models file asked."""

    name: str  # its run directory's folder name
    model: str = ""
    server_type: str | None = None
    server_address: str | None = None
    overrides: tuple[str, ...] = ()  # the entry's settings as eval.py overrides, its own `overrides` last
    baseline: bool = False
    published: str | None = None  # the published model its summary compares with
    published_file: str | None = None  # the user's file of published scores (absolute)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model,
            "server_type": self.server_type,
            "server_address": self.server_address,
            "overrides": list(self.overrides),
            "baseline": self.baseline,
            "published": self.published,
            "published_file": self.published_file,
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> CampaignModel:
        """The model `data` describes; DataError naming `where` ("<path>: models[<i>]") and the bad key."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"].strip():
            raise DataError(f"{where}: expected an object with a non-empty 'name', got {str(data)[:80]!r}")
        name = data["name"]
        if "/" in name or name in (".", ".."):
            raise DataError(f"{where}: name {name!r} is not a folder name")
        return cls(
            name=name,
            model=_text(data.get("model"), f"{where}.model") or "",
            server_type=_text(data.get("server_type"), f"{where}.server_type"),
            server_address=_text(data.get("server_address"), f"{where}.server_address"),
            overrides=_strings(data.get("overrides"), f"{where}.overrides"),
            baseline=data.get("baseline") is True,
            published=_text(data.get("published"), f"{where}.published"),
            published_file=_text(data.get("published_file"), f"{where}.published_file"),
        )


@dataclass(frozen=True)
class CampaignRecord:
    """`<output_dir>/campaign.json`: which models the campaign compares and how each was run."""

    models: tuple[CampaignModel, ...]
    benchmarks: tuple[str, ...]  # "gsm8k:4" as requested
    cluster: str = ""
    command: str = ""
    cost_per_gpu_hour: float | None = None
    schema_version: int = CAMPAIGN_SCHEMA_VERSION

    @property
    def baseline(self) -> CampaignModel | None:
        return next((m for m in self.models if m.baseline), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "models": [model.to_json() for model in self.models],
            "benchmarks": list(self.benchmarks),
            "cluster": self.cluster,
            "command": self.command,
            "cost_per_gpu_hour": self.cost_per_gpu_hour,
            "schema_version": self.schema_version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: Path) -> CampaignRecord:
        """The record of `data` read from `path`; raise DataError naming the file and the bad key."""
        version = check_version(data, path, CAMPAIGN_SCHEMA_VERSION)
        models_data = data.get("models")
        if not isinstance(models_data, list) or not models_data:
            raise DataError(f"{path}: 'models' should be a non-empty list, got {models_data!r}")
        models = tuple(CampaignModel.from_json(entry, f"{path}: models[{i}]") for i, entry in enumerate(models_data))
        names = [m.name for m in models]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise DataError(f"{path}: model names must be unique, repeated: {duplicates}")
        baselines = [m.name for m in models if m.baseline]
        if len(baselines) > 1:
            raise DataError(f"{path}: more than one model has baseline: true ({baselines}); mark exactly one")
        return cls(
            models=models,
            benchmarks=_strings(data.get("benchmarks"), f"{path}: benchmarks"),
            cluster=_text(data.get("cluster"), f"{path}: cluster") or "",
            command=_text(data.get("command"), f"{path}: command") or "",
            cost_per_gpu_hour=cost_rate(data.get("cost_per_gpu_hour"), path),
            schema_version=version,
        )


def write_campaign_record(path: Path, record: CampaignRecord) -> None:
    """Write campaign.json (indented, keys in the record's order, atomically)."""
    write_text_atomic(path, json.dumps(record.to_json(), indent=2) + "\n")


def read_campaign_record(path: Path) -> CampaignRecord:
    """Read campaign.json: UnreadableRecordError when it is missing, unreadable or not an object; DataError for a bad
    key or a newer schema version."""
    return CampaignRecord.from_json(read_json_object(path), path)
