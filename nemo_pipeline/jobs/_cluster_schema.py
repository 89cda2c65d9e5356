"""Typed settings of a cluster config for the optional backends: unknown keys and wrong types fail naming file and key.

A backend declares its schema as a frozen dataclass; `settings_from_spec(Schema, spec)` checks every key of the
cluster YAML (after `backend:`) against it. Supported field types: str, int, float, bool, `X | None`,
`tuple[str, ...]` (from a YAML list) and `dict[str, str]` (from a YAML mapping).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import TypeVar

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.jobs._backend import ClusterSpec
from nemo_pipeline.registry import closest

__all__ = ["settings_from_mapping", "settings_from_spec"]

T = TypeVar("T")
_NONE = type(None)


def _where(spec: ClusterSpec) -> str:
    return f"cluster config {spec.path}" if spec.path is not None else f"cluster '{spec.name}'"


def _check(where: str, key: str, value: object, annotation: object) -> object:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and _NONE in args:
            return None
        (inner,) = [a for a in args if a is not _NONE]
        return _check(where, key, value, inner)
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: key '{key}' must be a list of strings, got {value!r}")
        return tuple(value)
    if origin is dict:
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, (str, int, float)) and not isinstance(v, bool)
            for k, v in value.items()
        ):
            raise ConfigError(f"{where}: key '{key}' must be a mapping of strings to strings, got {value!r}")
        return {k: str(v) for k, v in value.items()}
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if (
        not isinstance(annotation, type)
        or not isinstance(value, annotation)
        or (annotation is not bool and isinstance(value, bool))
    ):
        expected = getattr(annotation, "__name__", str(annotation))
        raise ConfigError(f"{where}: key '{key}' must be {expected}, got {value!r}")
    return value


def settings_from_mapping(schema: type[T], data: Mapping[str, object], where: str) -> T:
    """Build `schema` (a dataclass) from `data`, naming `where` and the key in every error."""
    hints = typing.get_type_hints(schema)
    known = [f.name for f in dataclasses.fields(schema)]  # type: ignore[arg-type]
    values: dict[str, object] = {}
    for key, value in data.items():
        if key not in hints:
            raise ConfigError(f"{where}: unknown key '{key}'.{closest(key, known)} Known keys: {', '.join(known)}")
        values[key] = _check(where, key, value, hints[key])
    try:
        return schema(**values)
    except TypeError as err:  # a required key is missing
        raise ConfigError(f"{where}: {err}") from None
    except ConfigError as err:  # a value the schema's own checks refuse
        raise ConfigError(f"{where}: {err}") from None


def settings_from_spec(schema: type[T], spec: ClusterSpec) -> T:
    """The backend's settings from a cluster config (everything but `backend:`)."""
    return settings_from_mapping(schema, spec.settings, _where(spec))
