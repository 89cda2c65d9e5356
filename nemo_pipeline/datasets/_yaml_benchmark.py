"""Benchmarks defined in a YAML file, without code: the data file (JSONL, JSON, CSV or parquet), how its columns map
to item fields, the prompt, the grader and the expected metrics. Found by name under conf/benchmark/ (any file there
with a `data` key) or given by path (`--benchmarks path/to/suite.yaml:0`).

Keys (docs/LOGLIK.md has an example):
    name: my-suite                 # required; a benchmark's name (not one of the built-ins)
    data: my-suite.jsonl           # required; relative to the YAML file
    grader: judge                  # required; any registered grader (math, mcq, code, judge, loglik, ...)
    prompt_config: generic/chat    # required; under conf/prompt, or a path to a prompt YAML
    fields: {problem: question, expected_answer: answer, subset: ability, turns: turns, reference: rubric}
    description, license, sha256 (of the data file, checked when given), tokens_to_generate, seeds_temperature,
    default_server_type, metrics (names the metrics file must hold), subsets (allowed values), needs_sandbox (read
    from older files: it must agree with the grader's spec, which decides)

Every mistake is a one-line error naming the file and the key.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nemo_pipeline.config import CONF_DIR
from nemo_pipeline.datasets._benchmark import BENCHMARKS, Benchmark
from nemo_pipeline.datasets._formats import read_records
from nemo_pipeline.datasets._source import UserFile, sha256_file
from nemo_pipeline.errors import ConfigError, DataError, NemoPipelineError

__all__ = ["SuiteFile", "find_file_benchmark", "load_benchmark_file"]

_KEYS = {
    "name", "description", "data", "license", "sha256", "fields", "grader", "prompt_config", "tokens_to_generate",
    "seeds_temperature", "needs_sandbox", "default_server_type", "metrics", "subsets",
}  # fmt: skip
_REQUIRED = ("name", "data", "grader", "prompt_config")
_FIELD_TARGETS = {
    "id", "problem", "expected_answer", "subset", "turns", "reference", "reference_answer", "rubric", "loglik",
}  # fmt: skip
_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
_LOADER_VERSION = 2
_loaded: dict[str, Benchmark] = {}


@dataclass(frozen=True)
class SuiteFile(UserFile):
    """The data file a benchmark YAML names: it lives where the YAML says, not in the cache."""

    directory: str = ""

    @property
    def description(self) -> str:
        return f"file {Path(self.directory) / self.filenames[0]}"

    def target_dir(self) -> Path:
        return Path(self.directory)


def _fail(path: Path, key: str, problem: str) -> ConfigError:
    return ConfigError(f"{path}: key '{key}': {problem}")


def _rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            rows: list[dict[str, Any]] = [dict(row) for row in csv.DictReader(handle)]
        return rows
    return read_records(path)


def _cell(value: Any) -> Any:
    """CSV cells holding JSON lists or objects (turns, choices) are decoded."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _records(spec_path: Path, name: str, data: Path, fields: dict[str, str], subsets: list[str] | None):
    records = []
    for index, row in enumerate(_rows(data)):
        record: dict[str, Any] = {}
        for target, column in fields.items():
            if column not in row:
                raise DataError(
                    f"{spec_path}: key 'fields.{target}': column '{column}' is missing in record {index + 1} of {data}"
                )
            record[target] = _cell(row[column])
        record["id"] = str(record.get("id", f"{name}-{index:04d}"))
        if "turns" in record:
            turns = record["turns"]
            if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
                raise DataError(f"{spec_path}: key 'fields.turns': record {index + 1} of {data} is not a list of text")
            record.setdefault("problem", turns[0])
        record.setdefault("expected_answer", None)
        if "rubric" in record and "reference" not in record:
            # The judge reads a case's rubric as its reference, on every turn of a multi-turn case.
            rubric = str(record["rubric"])
            record["reference"] = [rubric] * len(record["turns"]) if "turns" in record else rubric
        if "subset" in record:
            record["subset"] = str(record["subset"])
            if subsets is not None and record["subset"] not in subsets:
                raise DataError(
                    f"{spec_path}: key 'subsets': record {index + 1} of {data} has subset {record['subset']!r}, "
                    f"not one of {subsets}"
                )
        records.append(record)
    return records


def load_benchmark_file(path: Path) -> Benchmark:
    """The Benchmark a YAML file defines; ConfigError/DataError naming the file and the key for any mistake."""
    from nemo_pipeline.evaluation import GRADERS  # graders register on import of the evaluation package
    from nemo_pipeline.inference.prompts import load_prompt
    from nemo_pipeline.inference.servers import SERVER_TYPES

    path = path.resolve()
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        problem = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        raise ConfigError(f"{path}: cannot read the benchmark file ({problem})") from None
    if not isinstance(spec, dict):
        raise ConfigError(f"{path}: a benchmark file is a mapping with keys {', '.join(_REQUIRED)}, ...")
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise _fail(path, unknown[0], f"unknown key; expected some of {', '.join(sorted(_KEYS))}")
    for key in _REQUIRED:
        if not isinstance(spec.get(key), str) or not spec[key]:
            raise _fail(path, key, "missing (a non-empty string is required)")
    name = spec["name"]
    if name in BENCHMARKS:
        raise _fail(path, "name", f"'{name}' is a built-in benchmark; choose another name")
    if spec["grader"] not in GRADERS:
        raise _fail(path, "grader", f"unknown grader '{spec['grader']}'; known: {', '.join(GRADERS.names())}")
    runs_programs = GRADERS.get(spec["grader"]).needs_sandbox
    if "needs_sandbox" in spec and bool(spec["needs_sandbox"]) is not runs_programs:
        problem = f"grader '{spec['grader']}' decides whether grading needs a sandbox ({runs_programs}); drop the key"
        raise _fail(path, "needs_sandbox", problem)
    try:
        prompt_name = spec["prompt_config"]
        local_prompt = path.parent / prompt_name
        load_prompt(str(local_prompt) if local_prompt.suffix in (".yaml", ".yml") else prompt_name)
    except ConfigError as exc:
        raise _fail(path, "prompt_config", str(exc)) from None
    server_type = spec.get("default_server_type")
    if server_type is not None and server_type not in SERVER_TYPES:
        raise _fail(path, "default_server_type", f"unknown server type '{server_type}'")
    data = (path.parent / spec["data"]).resolve()
    if data.suffix.lower() not in _SUFFIXES:
        raise _fail(path, "data", f"{data.name}: expected one of {', '.join(_SUFFIXES)}")
    if not data.is_file():
        raise _fail(path, "data", f"no file {data}")
    if spec.get("sha256") and sha256_file(data) != spec["sha256"]:
        raise _fail(path, "sha256", f"{data} has sha256 {sha256_file(data)}, not the pinned {spec['sha256']}")
    fields = spec.get("fields") or {"problem": "problem", "expected_answer": "expected_answer"}
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise _fail(path, "fields", "a mapping of item field -> data column")
    for target in fields:
        if target not in _FIELD_TARGETS:
            raise _fail(path, f"fields.{target}", f"not an item field; expected some of {sorted(_FIELD_TARGETS)}")
    if "problem" not in fields and "turns" not in fields:
        raise _fail(path, "fields", "maps neither 'problem' nor 'turns'")
    for key in ("metrics", "subsets"):
        value = spec.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise _fail(path, key, "a list of names")
    try:
        records = _records(path, name, data, fields, spec.get("subsets"))
    except NemoPipelineError:
        raise
    except (ValueError, OSError) as exc:
        raise _fail(path, "data", f"{data}: {exc}") from None
    if not records:
        raise _fail(path, "data", f"{data} holds no records")
    source = SuiteFile(
        benchmark=name,
        filenames=(data.name,),
        official_url=str(path),
        license=str(spec.get("license", "see the benchmark file")),
        sha256=spec.get("sha256"),
        directory=str(data.parent),
    )
    snapshot = records

    def load(_: Any) -> list[dict[str, Any]]:
        return _records(path, name, data, fields, spec.get("subsets")) if data.is_file() else snapshot

    try:
        return Benchmark(
            name=name,
            description=str(spec.get("description", f"defined in {path}")),
            source=source,
            load=load,
            grader=spec["grader"],
            prompt_config=str(local_prompt) if local_prompt.suffix in (".yaml", ".yml") else prompt_name,
            num_items=len(records),
            # absent: the global defaults (config._generation), applied with the user's settings
            tokens_to_generate=int(spec["tokens_to_generate"]) if "tokens_to_generate" in spec else None,
            seeds_temperature=float(spec["seeds_temperature"]) if "seeds_temperature" in spec else None,
            multi_turn="turns" in fields,
            default_server_type=server_type,
            # Prepared items are rebuilt when the file's mapping or this loader changes.
            data_version=int(hashlib.sha256(f"{_LOADER_VERSION}:{path.read_text()}".encode()).hexdigest()[:8], 16),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: a number or flag has the wrong type ({exc})") from None


def find_file_benchmark(name: str) -> Benchmark | None:
    """A file-defined benchmark by YAML path, or by name among conf/benchmark/**.yaml files with a `data` key."""
    if name in _loaded:
        return _loaded[name]
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml"):
        if not candidate.is_file():
            raise ConfigError(f"--benchmarks: no benchmark file {candidate.resolve()}")
        found: Path | None = candidate
    else:
        found = next((p for p in sorted((CONF_DIR / "benchmark").rglob(f"{name}.yaml")) if _defines_data(p)), None)
    if found is None:
        return None
    key = str(found.resolve())
    if key not in _loaded:
        benchmark = load_benchmark_file(found)
        _loaded[key] = _loaded[benchmark.name] = benchmark
    _loaded[name] = _loaded[key]
    return _loaded[key]


def _defines_data(path: Path) -> bool:
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(spec, dict) and "data" in spec


BENCHMARKS.file_lookup = find_file_benchmark
