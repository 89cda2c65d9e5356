"""The pipeline's commands as modules, so an installed package (a wheel, `pip install .`) runs every one of them:
`python -m nemo_pipeline.commands.<name>`. A checkout's `pipeline/<name>.py` scripts call the same `main`, and the
job scripts the pipeline writes run `python -m nemo_pipeline.commands.<stage>` (see `command_argv`)."""

from __future__ import annotations

__all__ = ["COMMANDS", "command_argv"]

COMMANDS = (
    "compute_metrics",
    "eval",
    "evaluate",
    "fetch_model",
    "generate",
    "prepare_data",
    "start_sandbox",
    "start_server",
    "status",
    "summarize_results",
)


def command_argv(name: str) -> tuple[str, str]:
    """The interpreter arguments that run a command: `generate` (or `generate.py`) -> ("-m", "nemo_pipeline....")."""
    stem = name.removesuffix(".py")
    if stem not in COMMANDS:
        raise ValueError(f"no pipeline command '{name}' (known: {', '.join(COMMANDS)})")
    return ("-m", f"{__name__}.{stem}")
