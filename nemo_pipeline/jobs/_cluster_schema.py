"""Typed settings of a cluster config for the optional backends: unknown keys and wrong types fail naming file and key.

A backend declares its schema as a frozen dataclass; `settings_from_spec(Schema, spec)` checks every key of the
cluster YAML (after `backend:`) against it. Supported field types: str, int, float, bool, `X | None`,
`tuple[str, ...]` (from a YAML list) and `dict[str, str]` (from a YAML mapping).
"""

from __future__ import annotations

from typing import TypeVar

from nemo_pipeline.config import typed_from_mapping
from nemo_pipeline.jobs._backend import ClusterSpec

__all__ = ["settings_from_spec"]

T = TypeVar("T")


def _where(spec: ClusterSpec) -> str:
    return f"cluster config {spec.path}" if spec.path is not None else f"cluster '{spec.name}'"


def settings_from_spec(schema: type[T], spec: ClusterSpec) -> T:
    """The backend's settings from a cluster config (everything but `backend:`)."""
    return typed_from_mapping(schema, spec.settings, _where(spec))
