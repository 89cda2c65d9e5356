"""What every record file shares: reading a JSON object with errors that name the file, the schema version rule,
atomic writes, and the checks of single values."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nemo_pipeline.errors import DataError


class UnreadableRecordError(DataError):
    """A record file cannot be read, is not JSON, or is not a JSON object (as opposed to a bad key in one)."""


def read_json_object(path: Path) -> dict[str, Any]:
    """The JSON object a record file holds; UnreadableRecordError naming the file when it is unreadable, not JSON,
    or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UnreadableRecordError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableRecordError(f"{path}: cannot read it ({exc})") from None
    if not isinstance(data, dict):
        raise UnreadableRecordError(f"{path}: expected a JSON object, got {str(data)[:80]!r}")
    return data


def check_version(data: Mapping[str, Any], path: Path, current: int) -> int:
    """The file's schema version: 1 when absent (written before versions); newer than `current` is an error."""
    version = data.get("schema_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise DataError(f"{path}: 'schema_version' should be a positive integer, got {version!r}")
    if version > current:
        raise DataError(
            f"{path}: schema_version {version} is newer than this nemo-pipeline reads ({current}); "
            "upgrade nemo-pipeline"
        )
    return version


def text_value(data: Mapping[str, Any], key: str, path: object, default: str | None = "") -> Any:
    """`data[key]` when it is a string, `default` when it is absent or null; DataError naming `path` and the key."""
    value = data.get(key, default)
    if value is not None and not isinstance(value, str):
        raise DataError(f"{path}: {key!r} should be a string, got {value!r}")
    return default if value is None else value


def string_list(data: Mapping[str, Any], key: str, path: Path) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{path}: {key!r} should be a list of strings, got {value!r}")
    return tuple(value)


def cost_rate(value: Any, path: Path) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise DataError(f"{path}: cost_per_gpu_hour should be a number >= 0 or null, got {value!r}")
    return float(value)


def finite_number(value: Any) -> float | None:
    """`value` when it is a finite int or float (not a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


def as_text(value: Any) -> str:
    """A value as report text: "" for None, a string as it is, anything else as its JSON text."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
