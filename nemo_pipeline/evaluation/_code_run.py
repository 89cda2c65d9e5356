"""Run a check program in the sandbox with the execution semantics of the reference code harnesses.

openai/human-eval (execution.py) and bigcode-evaluation-harness (custom_metrics/execute.py) both run
`exec(program, {})` in a fresh process with stdout, stderr and stdin swallowed and a 3 s interval timer; the program
passes iff `exec` returns without raising (any BaseException, SystemExit included, fails; so does a process that ends
before reporting, e.g. by `os._exit`). `run_check` wraps the program in a small harness with those semantics and
runs it in our sandbox, which adds isolation (its own uid, rlimits, no network) where the references disable
destructive functions in-process; a second limit one second past the timer kills a program that catches the timer's
exception, as the references' `join(timeout + 1)` does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from nemo_pipeline.errors import SandboxError

__all__ = ["REFERENCE_TIMEOUT_S", "CheckResult", "harness", "require_sandbox", "run_check"]

REFERENCE_TIMEOUT_S = 3.0  # human-eval's and bigcode's default per-program limit

# The wrapper run in the sandbox. Its own output is one marker line on file descriptor 1 after the program ran;
# the program's Python-level output is swallowed, as in the references.
_HARNESS = """\
import io
import os
import signal
import sys


class _TimedOut(Exception):
    pass


def _expire(signum, frame):
    raise _TimedOut()


class _NoInput(io.StringIO):
    def read(self, *args, **kwargs):
        raise OSError("stdin is not readable")

    readline = readlines = read

    def readable(self):
        return False


def _report(status):
    line = "\\n" + {marker!r} + " " + status.replace("\\n", " ")[:300] + "\\n"
    os.write(1, line.encode("utf-8", "backslashreplace"))
    os._exit(0)


_program = {program}
sys.stdout = sys.stderr = io.StringIO()
sys.stdin = _NoInput()
signal.signal(signal.SIGALRM, _expire)
signal.setitimer(signal.ITIMER_REAL, {timeout!r})
try:
    exec(_program, {{}})
    signal.setitimer(signal.ITIMER_REAL, 0)
    _report("passed")
except _TimedOut:
    _report("timed out")
except BaseException as _exc:
    signal.setitimer(signal.ITIMER_REAL, 0)
    _report("failed: " + type(_exc).__name__ + ": " + str(_exc))
"""


@dataclass(frozen=True)
class CheckResult:
    """One check program's outcome: `passed`, and `reason` = "passed", "timeout", "failed: <exception>", or
    "sandbox_error: ..." when the sandbox, not the program, failed (a grader error, never a verdict on the code)."""

    passed: bool
    reason: str


def harness(program: str, timeout_s: float, marker: str) -> str:
    """The sandbox program that execs `program` like the reference harnesses and prints `marker` + its status."""
    return _HARNESS.format(marker=marker, program=ascii(program), timeout=float(timeout_s))


def run_check(sandbox_url: str, program: str, timeout_s: float = REFERENCE_TIMEOUT_S) -> CheckResult:
    """Run `program` in the sandbox at `sandbox_url` with the references' semantics; see the module docstring."""
    from nemo_pipeline.sandbox import SandboxClient

    marker = "nemo-check-" + secrets.token_hex(8)
    with SandboxClient(sandbox_url, margin_s=2.0) as client:
        result = client.execute(
            harness(program, timeout_s, marker), language="python", timeout=timeout_s + 1.0, max_output_characters=2000
        )
    reported = [line for line in result.stdout.splitlines() if line.startswith(marker + " ")]
    status = reported[-1][len(marker) + 1 :] if reported else ""
    if result.process_status == "failed":
        return CheckResult(False, "sandbox_error: " + _first_line(result.stderr))
    if result.process_status == "timeout":
        if result.stderr.startswith("client gave up"):
            return CheckResult(False, "sandbox_error: " + _first_line(result.stderr))
        return CheckResult(False, "timeout")  # the program outlived the timer by a second (it caught the alarm)
    if status == "timed out":
        return CheckResult(False, "timeout")
    if status == "passed" and result.process_status == "completed":
        return CheckResult(True, "passed")
    if status.startswith("failed: "):
        return CheckResult(False, status)
    # No report: the program ended the interpreter itself (os._exit, a signal, the sandbox's memory limit).
    return CheckResult(False, f"failed: the program ended before reporting (sandbox status {result.process_status})")


def _first_line(text: str) -> str:
    line = next((line for line in text.splitlines() if line.strip()), "no detail")
    return line.strip()[:300]


def require_sandbox(sandbox_url: str | None, grader: str) -> str:
    """The sandbox address, or SandboxError naming the grader that needs one."""
    if not sandbox_url:
        raise SandboxError(
            f"the {grader} grader needs a sandbox: pass its address (sandbox_url), or let the pipeline start one"
        )
    return sandbox_url
