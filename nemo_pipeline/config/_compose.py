"""Compose a stage config with Hydra: schema (dataclass) <- conf/<stage>.yaml <- `++` overrides.

Every override key is checked against the schema first, so a typo fails with the closest valid key named,
instead of being silently added by `++`.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Sequence
from typing import Any, TypeVar

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.layout import CONF_DIR
from nemo_pipeline.registry import closest

__all__ = ["CONF_DIR", "check_overrides", "compose_config", "schema_keys", "to_yaml"]

T = TypeVar("T")


def schema_keys(schema: type) -> dict[str, Any]:
    """Every dotted key of a dataclass schema, with its field type (nested dataclasses are walked)."""
    keys: dict[str, Any] = {}
    hints = typing.get_type_hints(schema)
    for item in dataclasses.fields(schema):
        hint = hints[item.name]
        keys[item.name] = hint
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            for sub, sub_hint in schema_keys(hint).items():
                keys[f"{item.name}.{sub}"] = sub_hint
    return keys


def check_overrides(schema: type, overrides: Sequence[str]) -> None:
    """Raise ConfigError for a malformed override or one whose key the schema does not have."""
    known = schema_keys(schema)
    parser = OverridesParser.create()
    for text in overrides:
        try:
            (parsed,) = parser.parse_overrides([text])
        except HydraException as exc:
            raise ConfigError(f"cannot parse override '{text}': {exc}") from None
        key = parsed.key_or_group
        if key.startswith("hydra"):
            continue
        if key not in known:
            raise ConfigError(f"unknown config key '{key}' in '{text}'.{closest(key, list(known))}")


def compose_config(schema: type[T], config_name: str, overrides: Sequence[str] = ()) -> T:
    """Compose `conf/<config_name>.yaml` over its schema with the overrides; return the typed dataclass."""
    check_overrides(schema, overrides)
    store = ConfigStore.instance()
    store.store(name=f"{config_name}_schema", node=schema)
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=list(overrides))
        missing = sorted(OmegaConf.missing_keys(cfg))
        if missing:
            raise ConfigError(f"{config_name}: required key(s) not set: {', '.join(missing)} (use ++key=value)")
        obj = OmegaConf.to_object(cfg)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(f"{config_name}: {_first_line(exc)}") from None
    assert isinstance(obj, schema)
    return obj


def flat_values(cfg: object, prefix: str = "") -> dict[str, Any]:
    """Every leaf of a structured config (a dataclass instance or class, or a composed DictConfig) as dotted keys:
    {"server.address": None, "mode": "single", ...}; the keys and values a stage's `++key=value` overrides use."""
    flat: dict[str, Any] = {}

    def walk(path: str, node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{path}{key}.", value)
        else:
            flat[path[:-1]] = node

    walk(prefix, OmegaConf.to_container(cfg if isinstance(cfg, DictConfig) else OmegaConf.structured(cfg)))
    return flat


def to_yaml(cfg: object) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def _first_line(exc: BaseException) -> str:
    message = str(exc).strip()
    cause = exc.__cause__
    if cause is not None and str(cause).strip():
        message = f"{message}: {str(cause).strip()}"
    lines = [line for line in message.splitlines() if line.strip() and not line.startswith(("    ", "full_key"))]
    return " ".join(lines[:3])
