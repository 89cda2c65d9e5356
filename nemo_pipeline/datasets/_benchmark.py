"""The benchmark registry: one module per benchmark under nemo_pipeline/datasets/benchmarks/."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nemo_pipeline.config import SamplingDefaults
from nemo_pipeline.datasets._source import PyPIWheel, UserFile, cache_dir, sha256_file
from nemo_pipeline.errors import ConfigError, DataError
from nemo_pipeline.jsonl import read_jsonl, write_jsonl_atomic
from nemo_pipeline.registry import Registry

__all__ = [
    "BENCHMARKS",
    "OFFICIAL",
    "Benchmark",
    "Reference",
    "Variant",
    "data_path",
    "is_prepared",
    "load_items",
    "prepare",
    "register_benchmark",
    "validate_records",
]


OFFICIAL = "official"  # the name of every benchmark's default protocol


@dataclass(frozen=True)
class Reference:
    """The official scorer a benchmark's default protocol follows, pinned: where users' published numbers come from."""

    repository: str  # "openai/human-eval", or a PyPI distribution "lm-eval==0.4.13"
    commit: str  # the pinned commit (or version) the protocol was read from
    files: tuple[str, ...]  # the files that define prompt, extraction, execution and aggregation
    protocol: str  # one sentence: prompt and shots, extraction, unanswered items, aggregation, limits, headline


@dataclass(frozen=True)
class Variant:
    """A named, opt-in protocol other than the official one (`++protocol=<name>`); tables name it."""

    description: str
    prompt_config: str | None = None  # None: the benchmark's default prompt
    grader: str | None = None  # None: the benchmark's default grader


@dataclass(frozen=True)
class Benchmark:
    """Everything the pipeline needs to know about one benchmark."""

    name: str
    description: str
    source: PyPIWheel | UserFile
    load: Callable[[Any], list[dict[str, Any]]]  # source -> records with id, problem, expected_answer[, subset]
    grader: str
    prompt_config: str  # path under conf/prompt without .yaml, e.g. "generic/math"
    num_items: int
    # Its own sampling defaults, used where the user sets none; None: the global default (config._generation)
    tokens_to_generate: int | None = None
    seeds_temperature: float | None = None  # each seed of a sampled run (`name:N`)
    multi_turn: bool = False  # items carry `turns` (user messages, sent one after the other)
    data_version: int = 1  # bump when the loader's output changes, so prepared files are rebuilt
    # The server type used when the user names none (log-likelihood benchmarks need one that returns prompt
    # log-probabilities); None: the run's default.
    default_server_type: str | None = None
    reference: Reference | None = None  # the official protocol the defaults follow
    num_fewshot: int | None = None  # shots of the official protocol's prompt (None: not declared); published
    # baselines are compared only with the same shots
    variants: tuple[tuple[str, Variant], ...] = ()  # (name, variant): opt-in protocols, `++protocol=<name>`

    @property
    def needs_sandbox(self) -> bool:
        """Whether grading runs programs in a sandbox: the grader's spec says (`GraderSpec.needs_sandbox`)."""
        from nemo_pipeline.evaluation import GRADERS  # imported here: evaluation imports datasets

        return GRADERS.get(self.grader).needs_sandbox

    @property
    def sampling(self) -> SamplingDefaults:
        """The sampling defaults this benchmark asks for (`config.resolve_inference` applies them)."""
        return SamplingDefaults(seeds_temperature=self.seeds_temperature, tokens_to_generate=self.tokens_to_generate)

    def variant(self, name: str) -> Variant | None:
        """The variant called `name`; None for "official"; ConfigError naming the known ones otherwise."""
        if name == OFFICIAL:
            return None
        for known, variant in self.variants:
            if known == name:
                return variant
        names = ", ".join([OFFICIAL, *(n for n, _ in self.variants)])
        raise ConfigError(f"protocol: benchmark '{self.name}' has no protocol '{name}' (known: {names})")


class _BenchmarkRegistry(Registry[Benchmark]):
    """The built-in benchmarks, plus file-defined ones that `get` finds by YAML path or by name under
    conf/benchmark/ (`file_lookup`, set by _yaml_benchmark); those stay out of `names()`."""

    def __init__(self) -> None:
        super().__init__("benchmark")
        self.file_lookup: Callable[[str], Benchmark | None] | None = None

    def get(self, name: str) -> Benchmark:
        if name not in self and self.file_lookup is not None:
            found = self.file_lookup(name)
            if found is not None:
                return found
        return super().get(name)


BENCHMARKS = _BenchmarkRegistry()


def register_benchmark(benchmark: Benchmark) -> Benchmark:
    """Add a benchmark to the registry (a duplicate name raises at import)."""
    BENCHMARKS.add(benchmark.name, benchmark)
    return benchmark


def data_path(name: str) -> Path:
    """Where the prepared items of a benchmark live: `<cache>/data/<name>/test.jsonl`."""
    return cache_dir() / "data" / name / "test.jsonl"


def _manifest_path(name: str) -> Path:
    return data_path(name).with_name("manifest.json")


def _source_sha256(benchmark: Benchmark) -> str | None:
    """The checksum of the source file as it is now (None for a missing user file)."""
    if isinstance(benchmark.source, UserFile):
        found = benchmark.source.find()
        return sha256_file(found) if found is not None else None
    return benchmark.source.sha256


def is_prepared(name: str) -> bool:
    """True when the data file exists, matches its manifest, and is current for the source and loader."""
    benchmark = BENCHMARKS.get(name)
    path, manifest = data_path(name), _manifest_path(name)
    if not (path.exists() and manifest.exists()):
        return False
    try:
        recorded = json.loads(manifest.read_text())
    except json.JSONDecodeError:
        return False
    if recorded.get("sha256") != sha256_file(path) or recorded.get("data_version") != benchmark.data_version:
        return False
    current_source = _source_sha256(benchmark)
    # A user file that was removed after preparing does not invalidate the prepared items; a replaced one does.
    return current_source is None or recorded.get("source_sha256") == current_source


def validate_records(benchmark: Benchmark, records: list[dict[str, Any]]) -> None:
    """Check the fields every stage relies on; raise DataError naming the benchmark and the bad item."""
    seen: set[str] = set()
    for index, record in enumerate(records):
        item_id = record.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise DataError(f"{benchmark.name}: item {index} has no string 'id' (got {item_id!r})")
        if item_id in seen:
            raise DataError(f"{benchmark.name}: loader produced the duplicate id {item_id!r}")
        seen.add(item_id)
        if not isinstance(record.get("problem"), str):
            raise DataError(f"{benchmark.name}: item {item_id} has no string 'problem'")
        if "expected_answer" not in record:
            raise DataError(f"{benchmark.name}: item {item_id} has no 'expected_answer' key")
    if len(records) != benchmark.num_items:
        raise DataError(
            f"{benchmark.name}: expected {benchmark.num_items} items, the source gave {len(records)}; "
            f"is {benchmark.source.description} the complete official file?"
        )


def prepare(name: str, force: bool = False) -> Path:
    """Write the benchmark's items to its data file (idempotent; verifies the recorded checksums)."""
    benchmark = BENCHMARKS.get(name)
    path = data_path(name)
    if not force and is_prepared(name):
        return path
    records = benchmark.load(benchmark.source)
    validate_records(benchmark, records)
    write_jsonl_atomic(path, records)
    manifest = {
        "benchmark": name,
        "source": benchmark.source.description,
        "source_sha256": _source_sha256(benchmark),
        "license": benchmark.source.license,
        "num_items": len(records),
        "data_version": benchmark.data_version,
        "sha256": sha256_file(path),
    }
    tmp = _manifest_path(name).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp.replace(_manifest_path(name))
    return path


def load_items(name: str) -> list[dict[str, Any]]:
    """Prepared items of a benchmark, preparing them on first use."""
    return read_jsonl(prepare(name))
