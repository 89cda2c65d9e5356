"""Build a frozen dataclass from a YAML mapping, checking every key and type: an unknown key or a wrong type fails in
one line naming where (a file, an entry) and the key. Supported field types: str, int, float, bool, `X | None`,
`tuple[str, ...]` (from a YAML list) and `dict[str, str]` (from a YAML mapping). Used by cluster configs and models
files alike."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import TypeVar

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.registry import closest

__all__ = ["typed_from_mapping"]

T = TypeVar("T")
_NONE = type(None)


def _check(where: str, key: str, value: object, annotation: object, numbers_as_text: bool) -> object:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and _NONE in args:
            return None
        (inner,) = [a for a in args if a is not _NONE]
        return _check(where, key, value, inner, numbers_as_text)
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
    if numbers_as_text and annotation is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if (
        not isinstance(annotation, type)
        or not isinstance(value, annotation)
        or (annotation is not bool and isinstance(value, bool))
    ):
        expected = getattr(annotation, "__name__", str(annotation))
        raise ConfigError(f"{where}: key '{key}' must be {expected}, got {value!r}")
    return value


def typed_from_mapping(schema: type[T], data: Mapping[str, object], where: str, numbers_as_text: bool = True) -> T:
    """Build `schema` (a dataclass) from `data`, naming `where` and the key in every error. With `numbers_as_text` a
    number given for a string key is read as its text (a cluster's `time_limit: 60`); without, it is refused."""
    hints = typing.get_type_hints(schema)
    known = [f.name for f in dataclasses.fields(schema)]  # type: ignore[arg-type]
    values: dict[str, object] = {}
    for key, value in data.items():
        if key not in hints:
            raise ConfigError(f"{where}: unknown key '{key}'.{closest(key, known)} Known keys: {', '.join(known)}")
        values[key] = _check(where, key, value, hints[key], numbers_as_text)
    try:
        return schema(**values)
    except TypeError as err:  # a required key is missing
        raise ConfigError(f"{where}: {err}") from None
    except ConfigError as err:  # a value the schema's own checks refuse
        raise ConfigError(f"{where}: {err}") from None
