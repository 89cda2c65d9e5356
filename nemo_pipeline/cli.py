"""Shared entry-point plumbing: stage scripts print our errors as one line and return an exit code."""

from __future__ import annotations

import logging
import signal
import sys
import traceback
from collections.abc import Callable, Sequence

from nemo_pipeline.errors import NemoPipelineError

__all__ = ["main_wrapper", "split_overrides"]


def split_overrides(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split argv into Hydra-style overrides (`k=v`, `+k=v`, `++k=v`, `~k`) and the other arguments."""
    overrides, rest = [], []
    for arg in argv:
        if arg.startswith(("+", "~")) or ("=" in arg and not arg.startswith("-")):
            overrides.append(arg)
        else:
            rest.append(arg)
    return overrides, rest


def _terminate(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main_wrapper(main: Callable[[list[str]], int], argv: Sequence[str] | None = None) -> int:
    """Run `main`; a NemoPipelineError becomes `error: <message>` and exit code 2 (traceback with --debug)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    if debug:
        args.remove("--debug")
    logging.basicConfig(level=logging.DEBUG if debug else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.DEBUG if debug else logging.WARNING)
    # SIGTERM (scancel, kill) unwinds like Ctrl-C, so servers and sandboxes started here are stopped.
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return main(args)
    except NemoPipelineError as exc:
        if debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished items are saved; rerun the same command to resume", file=sys.stderr)
        return 130
