"""Campaigns: several models on one benchmark suite (`pipeline/eval.py --models models.yaml`).

A models file is a YAML list (or a mapping with a `models:` list) of entries::

    - name: base                      # required, unique; the folder <output_dir>/<name>/
      model: /models/base             # path or served name ("" or absent: the server type's default)
      server_type: vllm
      server_gpus: 8
      tensor_parallel: 8
      server_args: ["--max-model-len", "8192"]
      prompt_config: generic/math
      overrides: ["++inference.temperature=0.6"]
      baseline: true                  # at most one entry
      published: Llama-3.1-8B         # compare with its published scores (conf/published/baselines.yaml)
      published_file: my_scores.yaml  # your own published scores (relative to the models file)

The whole file is checked before anything starts; an error names the entry and the key.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from nemo_pipeline.config import typed_from_mapping
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.records import CampaignModel
from nemo_pipeline.report import find_published, load_published

__all__ = ["ModelEntry", "load_models_file"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class ModelEntry:
    """One model of a campaign."""

    name: str
    model: str = ""
    server_type: str | None = None
    server_address: str | None = None
    server_gpus: int | None = None
    tensor_parallel: int | None = None
    server_args: tuple[str, ...] = ()
    prompt_config: str | None = None
    overrides: tuple[str, ...] = ()
    baseline: bool = False
    published: str | None = None  # the published model its summary compares with
    published_file: str | None = None  # a file of published scores besides the shipped one

    def eval_overrides(self) -> list[str]:
        """This model's settings as EvalConfig overrides (its own `overrides` last, so they win)."""
        values: list[tuple[str, object]] = [
            ("server.model", self.model or None),
            ("server.server_type", self.server_type),
            ("server.address", self.server_address),
            ("server.gpus", self.server_gpus),
            ("server.tensor_parallel", self.tensor_parallel),
            ("prompt_config", self.prompt_config),
        ]
        rendered = [f"++{key}={json.dumps(value)}" for key, value in values if value is not None]
        if self.server_args:
            rendered.append(f"++server.extra_args={json.dumps(list(self.server_args))}")
        return [*rendered, *self.overrides]

    def campaign_model(self) -> CampaignModel:
        """What campaign.json records of this model."""
        return CampaignModel(
            name=self.name,
            model=self.model,
            server_type=self.server_type,
            server_address=self.server_address,
            overrides=tuple(self.eval_overrides()),
            baseline=self.baseline,
            published=self.published,
            published_file=self.published_file,
        )


def _entry(path: Path, number: int, data: object) -> ModelEntry:
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: entry {number} must be a mapping with at least 'name', got {data!r}")
    label = f"{path}: entry {number}" + (f" ('{data['name']}')" if isinstance(data.get("name"), str) else "")
    if "name" not in data:
        raise ConfigError(f"{label}: key 'name' is required (it names the folder <output_dir>/<name>/)")
    entry = typed_from_mapping(ModelEntry, data, label, numbers_as_text=False)
    if not _NAME.match(entry.name):
        raise ConfigError(
            f"{label}: key 'name' must be a folder name (letters, digits, '_', '-', '.'), got {entry.name!r}"
        )
    for override in entry.overrides:
        if not override.startswith("++") or "=" not in override:
            raise ConfigError(f"{label}: key 'overrides': '{override}' is not of the form ++key=value")
    return _check_published(path, label, entry)


def _check_published(path: Path, label: str, entry: ModelEntry) -> ModelEntry:
    """The entry with its published-scores file made absolute, once the file and the name are known good."""
    if entry.published_file is not None and entry.published is None:
        raise ConfigError(f"{label}: key 'published_file' needs 'published' (the model to compare with)")
    if entry.published is None:
        return entry
    file = None if entry.published_file is None else (path.parent / entry.published_file).resolve()
    find_published(load_published(file), entry.published, f"{label}: key 'published'")
    return dataclasses.replace(entry, published_file=None if file is None else str(file))


def load_models_file(path: Path) -> list[ModelEntry]:
    """Read and check a models file: unknown keys, wrong types, duplicate names and two baselines fail here."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"--models {path}: cannot read it: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"--models {path}: not valid YAML: {' '.join(str(err).split())}") from None
    if isinstance(data, dict) and set(data) == {"models"}:
        data = data["models"]
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{path}: expected a non-empty list of model entries (or a mapping with a 'models' list)")
    entries = [_entry(path, number, item) for number, item in enumerate(data, start=1)]
    seen: dict[str, int] = {}
    for number, entry in enumerate(entries, start=1):
        if entry.name in seen:
            raise ConfigError(f"{path}: entry {number}: name '{entry.name}' is also entry {seen[entry.name]}")
        seen[entry.name] = number
    baselines = [e.name for e in entries if e.baseline]
    if len(baselines) > 1:
        raise ConfigError(
            f"{path}: key 'baseline' is true on {len(baselines)} entries ({', '.join(baselines)}); at most one"
        )
    return entries
