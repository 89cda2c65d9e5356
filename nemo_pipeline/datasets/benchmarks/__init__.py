"""Importing this package registers every built-in benchmark: each public module of it registers one benchmark, or
a family of them that differ only in data (`lm_eval_tasks`: one row each); private modules hold shared loaders."""

from nemo_pipeline.registry import import_modules

__all__ = import_modules(__name__, __path__)
