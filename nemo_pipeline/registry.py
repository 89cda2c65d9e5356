"""A small typed registry: plug-ins (benchmarks, graders, server types, backends) join by decorator."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from nemo_pipeline.errors import ConfigError

__all__ = ["Registry", "closest", "import_modules"]

T = TypeVar("T")


def closest(name: str, known: list[str]) -> str:
    """Return ' Did you mean X?' for the closest known name, or ''."""
    match = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    return f" Did you mean '{match[0]}'?" if match else ""


def import_modules(package: str, path: list[str], suffix: str = "") -> list[str]:
    """Import every public module of `package` (whose `__path__` is `path`) whose name ends with `suffix`, so that
    a new plug-in joins its registry by adding one module; returns the names imported, sorted."""
    names = sorted(m.name for m in pkgutil.iter_modules(path) if not m.name.startswith("_") and m.name.endswith(suffix))
    for name in names:
        importlib.import_module(f"{package}.{name}")
    return names


class Registry(Generic[T]):
    """Maps names to entries of one kind; duplicate names raise at import, unknown names list the known ones."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(entry: T) -> T:
            self.add(name, entry)
            return entry

        return decorator

    def add(self, name: str, entry: T) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = entry

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            known = sorted(self._entries)
            raise ConfigError(
                f"unknown {self.kind} '{name}'.{closest(name, known)} Known: {', '.join(known)}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))
