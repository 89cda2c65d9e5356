"""Benchmark registry and data preparation from pinned, checksummed sources."""

from nemo_pipeline.datasets import benchmarks as _benchmarks  # noqa: F401  (registers the built-ins)
from nemo_pipeline.datasets._benchmark import (
    BENCHMARKS,
    OFFICIAL,
    Benchmark,
    Reference,
    Variant,
    data_path,
    is_prepared,
    load_items,
    prepare,
    register_benchmark,
    validate_records,
)
from nemo_pipeline.datasets._source import (
    PyPIWheel,
    Source,
    UserFile,
    cache_dir,
    sha256_file,
)
from nemo_pipeline.datasets._yaml_benchmark import SuiteFile, find_file_benchmark, load_benchmark_file

__all__ = [
    "BENCHMARKS",
    "OFFICIAL",
    "Benchmark",
    "PyPIWheel",
    "Reference",
    "Source",
    "SuiteFile",
    "UserFile",
    "Variant",
    "cache_dir",
    "data_path",
    "find_file_benchmark",
    "is_prepared",
    "load_benchmark_file",
    "load_items",
    "prepare",
    "register_benchmark",
    "sha256_file",
    "validate_records",
]
