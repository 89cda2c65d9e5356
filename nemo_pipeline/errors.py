"""One exception type per failure class; command-line scripts print them without a traceback."""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "ExportError",
    "JobFailedError",
    "MissingExtraError",
    "NemoPipelineError",
    "SandboxError",
    "ServerStartError",
]


class NemoPipelineError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(NemoPipelineError):
    """A configuration key, value or command-line argument is wrong."""


class DataError(NemoPipelineError):
    """A data or output file is missing, corrupt, or fails its checksum."""


class ServerStartError(NemoPipelineError):
    """A model server or sandbox did not become healthy in time."""

    def __init__(self, what: str, detail: str, log_tail: str = "") -> None:
        message = f"{what}: {detail}"
        if log_tail:
            message += f"\n--- last lines of the log ---\n{log_tail}"
        super().__init__(message)


class JobFailedError(NemoPipelineError):
    """A job of the evaluation graph failed."""


class ExportError(NemoPipelineError):
    """Logging a run to an experiment tracker failed."""


class SandboxError(NemoPipelineError):
    """The code-execution sandbox could not be reached or refused to start."""


class MissingExtraError(NemoPipelineError):
    """An optional dependency is not installed."""

    def __init__(self, feature: str, package: str, extra: str) -> None:
        super().__init__(
            f"{feature} requires the optional dependency '{package}'. "
            f'Install it with: pip install "nemo-pipeline[{extra}]"'
        )
