"""The generation client's settings from the stage config, and its record of a task (`records.ClientReport`: the
in-flight limit it settled at, the requests it sent and retried, by reason, the items that failed), logged and
written beside the output file (`<output_file>.client.json`)."""

from __future__ import annotations

import logging
from pathlib import Path

from nemo_pipeline.config import ConcurrencyConfig, ServerConfig
from nemo_pipeline.errors import ConfigError
from nemo_pipeline.inference._concurrency import OPENING_BURST
from nemo_pipeline.inference.client import AdaptiveSettings, ConcurrencyLimiter, OpenAIClient
from nemo_pipeline.inference.servers import SERVER_TYPES
from nemo_pipeline.layout import client_stats_file
from nemo_pipeline.records import ClientReport, write_client_report

__all__ = [
    "client_report",
    "failed_items_message",
    "limiter_for",
    "opening_limit",
    "remember_settled",
    "save_client_report",
]

log = logging.getLogger(__name__)

_IDS_SHOWN = 20
# The opening ramp starts here (or at the opening limit, when smaller); a rate limit below it refuses the excess once.
_RAMP_START = 32


# The limit each server settled at in this process: a grouped job's next task against the same server starts there.
_SETTLED: dict[str, int] = {}


def remember_settled(base_url: str, limiter: ConcurrencyLimiter) -> None:
    if limiter.adaptive:
        _SETTLED[base_url] = limiter.settled()


def limiter_for(
    pinned: int | None, bounds: ConcurrencyConfig, server: ServerConfig, base_url: str = "", where: str = ""
) -> ConcurrencyLimiter:
    """A limit pinned by `pinned` (`max_concurrent_requests`), or an adaptive one within `bounds` (`concurrency`)
    that opens with `bounds.initial` requests (default: the server type's slots, else OPENING_BURST; where an
    earlier task against the same server settled, if any). `where` prefixes the keys an error names."""
    if pinned is not None:
        if pinned < 1:
            raise ConfigError(f"{where}max_concurrent_requests={pinned} must be >= 1 (or null: adaptive)")
        return ConcurrencyLimiter(pinned=pinned)
    if not 1 <= bounds.min <= bounds.max:
        raise ConfigError(
            f"{where}concurrency.min={bounds.min} and {where}concurrency.max={bounds.max} must satisfy 1 <= min <= max"
        )
    if bounds.initial is not None and not bounds.min <= bounds.initial <= bounds.max:
        raise ConfigError(
            f"{where}concurrency.initial={bounds.initial} must lie in [{where}concurrency.min={bounds.min}, "
            f"{where}concurrency.max={bounds.max}]"
        )
    opening = _SETTLED.get(base_url) or bounds.initial or opening_limit(server)
    opening = min(max(opening, bounds.min), bounds.max)
    settings = AdaptiveSettings(
        initial=min(_RAMP_START, opening), burst=opening, minimum=bounds.min, maximum=bounds.max
    )
    return ConcurrencyLimiter(None, settings)


def opening_limit(server: ServerConfig) -> int:
    """Requests in flight before a server of this config has answered: its slots when fixed, else OPENING_BURST."""
    slots = SERVER_TYPES.get(server.server_type).slots
    return slots(server.parallel_requests) if slots is not None else OPENING_BURST


def client_report(
    client: OpenAIClient, output_file: Path, items: int, written: int, failed: list[str], seconds: float
) -> ClientReport:
    """The record of what `client` did for the task of `output_file`."""
    limiter, stats = client.limiter, client.stats
    return ClientReport(
        output_file=str(output_file),
        mode="adaptive" if limiter.adaptive else "pinned",
        limit_settled=limiter.settled() if limiter.adaptive else limiter.limit,
        limit_peak=limiter.peak() if limiter.adaptive else limiter.limit,
        peak_in_flight=limiter.peak_in_flight,
        items=items,
        items_written=written,
        items_failed=len(failed),
        failed_ids=failed[:_IDS_SHOWN],
        requests=stats.requests,
        retried=stats.retried,
        retries=dict(sorted(stats.retries.items())),
        seconds=round(seconds, 3),
        items_per_s=round(written / seconds, 1) if seconds > 0 else 0.0,
    )


def save_client_report(report: ClientReport, output_file: Path, stage: str) -> Path:
    """Write the report beside `output_file` (`<output_file>.client.json`) and log its summary."""
    path = client_stats_file(output_file)
    write_client_report(path, report)
    log.info("%s: %s: %s", stage, output_file, report.summary())
    return path


def failed_items_message(output_file: Path, failures: dict[str, str], total: int) -> str:
    """One line naming how many items failed, which (the first few), and the first error."""
    ids = sorted(failures)
    shown = ", ".join(ids[:_IDS_SHOWN]) + (f", ... ({len(ids) - _IDS_SHOWN} more)" if len(ids) > _IDS_SHOWN else "")
    first = failures[ids[0]]
    return (
        f"{output_file}: {len(ids)} of {total} item(s) failed after bounded retries: {shown}; "
        f"first error ({ids[0]}): {first}. The other items are saved; rerun the same command to retry the failed ones"
    )
