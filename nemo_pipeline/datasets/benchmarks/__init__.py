"""Importing this package registers every built-in benchmark: each public module of it is one benchmark."""

from nemo_pipeline.registry import import_modules

__all__ = import_modules(__name__, __path__)
