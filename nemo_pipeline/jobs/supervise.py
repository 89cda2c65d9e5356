"""Run a job's components side by side, each with its own log; any failure fails the job.

Usage::

    python -m nemo_pipeline.jobs.supervise --job NAME --log-dir DIR [--grace-s S] \\
        --component server -- vllm serve ... \\
        --component main -- python -m nemo_pipeline.inference.generate ...

or ``--spec FILE.json`` holding ``{"job": ..., "log_dir": ..., "components": [{"name": ..., "argv": [...]}]}``
(a component may also hold ``"env": {...}``). ``--env NAME KEY=VALUE`` adds a variable to component NAME's
environment only (a server type's launch settings), over what the job's environment holds. Port placeholders
(``{free_port:NAME}``, see `nemo_pipeline.jobs.ports`) in any argv or env value are replaced, before anything starts,
by ports free on this node at that moment: one port per name.
A group starts at the three tokens ``--component NAME --``; the last component is the main one.
Each component runs in its own process group with stdout and stderr in ``<log-dir>/<name>.log``. When the main
component ends the others get SIGTERM, then SIGKILL after the grace period. If a component fails (the main one exits
non-zero, or a background one ends before the main one), the rest are stopped and the supervisor exits non-zero,
printing the component, its exit code, its log path and the last 40 lines of its log.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from nemo_pipeline.jobs._status import explain_log
from nemo_pipeline.jobs.ports import choose_ports, with_ports
from nemo_pipeline.layout import component_log
from nemo_pipeline.records import JobRecord, write_job_record

__all__ = [
    "ComponentSpec",
    "RecordSpec",
    "SupervisorSpec",
    "main",
    "parse_args",
    "render_argv",
    "supervise",
]

POLL_S = 0.1


@dataclass(frozen=True)
class ComponentSpec:
    name: str
    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)  # over the supervisor's own environment, for this one


@dataclass(frozen=True)
class RecordSpec:
    """Where the supervisor writes the job's record (wall time, GPUs, outputs) when the job ends."""

    path: Path
    gpus: int = 0
    benchmark: str | None = None
    tasks: tuple[str, ...] = ()


@dataclass(frozen=True)
class SupervisorSpec:
    job: str
    log_dir: Path
    components: tuple[ComponentSpec, ...]
    grace_s: float = 10.0
    record: RecordSpec | None = None


def render_argv(spec: SupervisorSpec, python: str = sys.executable) -> list[str]:
    """The argv that runs `spec` through this module (the inverse of `parse_args`)."""
    argv = [
        python,
        "-m",
        "nemo_pipeline.jobs.supervise",
        "--job",
        spec.job,
        "--log-dir",
        str(spec.log_dir),
    ]
    argv += ["--grace-s", f"{spec.grace_s:g}"]
    if spec.record is not None:
        argv += ["--record", str(spec.record.path), "--gpus", str(spec.record.gpus)]
        argv += ["--benchmark", spec.record.benchmark] if spec.record.benchmark else []
        for task in spec.record.tasks:
            argv += ["--task", task]
    for component in spec.components:
        for key, value in component.env.items():
            argv += ["--env", component.name, f"{key}={value}"]
    for component in spec.components:
        argv += ["--component", component.name, "--", *component.argv]
    return argv


def _is_group_start(tokens: list[str], i: int) -> bool:
    return tokens[i] == "--component" and i + 2 < len(tokens) and tokens[i + 2] == "--"


def parse_args(argv: list[str]) -> SupervisorSpec:
    """Parse the command line (options, then `--component NAME -- argv...` groups, or `--spec FILE`)."""
    first = next((i for i in range(len(argv)) if _is_group_start(argv, i)), len(argv))
    parser = argparse.ArgumentParser(
        prog="python -m nemo_pipeline.jobs.supervise",
        description=__doc__.split("\n")[0],
    )
    parser.add_argument("--job", default=None)
    parser.add_argument("--log-dir", type=Path, default=None)
    parser.add_argument("--grace-s", type=float, default=None)
    parser.add_argument("--record", type=Path, default=None, help="write the job's record (job.json) here at the end")
    parser.add_argument("--gpus", type=int, default=0)
    parser.add_argument("--benchmark", default=None)
    parser.add_argument("--task", action="append", default=[])
    parser.add_argument(
        "--env",
        nargs=2,
        action="append",
        default=[],
        metavar=("COMPONENT", "KEY=VALUE"),
        help="add KEY=VALUE to one component's environment",
    )
    parser.add_argument(
        "--spec",
        type=Path,
        default=None,
        help="JSON file with job, log_dir, components",
    )
    opts = parser.parse_args(argv[:first])

    components: list[ComponentSpec] = []
    job, log_dir, grace_s = opts.job, opts.log_dir, opts.grace_s
    if opts.spec is not None:
        data = json.loads(opts.spec.read_text(encoding="utf-8"))
        job = job or data["job"]
        log_dir = log_dir or Path(data["log_dir"])
        grace_s = grace_s if grace_s is not None else float(data.get("grace_s", 10.0))
        components += [ComponentSpec(c["name"], tuple(c["argv"]), dict(c.get("env", {}))) for c in data["components"]]

    i = first
    while i < len(argv):
        name = argv[i + 1]
        j = i + 3
        while j < len(argv) and not _is_group_start(argv, j):
            j += 1
        components.append(ComponentSpec(name, tuple(argv[i + 3 : j])))
        i = j
    envs: dict[str, dict[str, str]] = {}
    for name, pair in opts.env:
        key, equals, value = pair.partition("=")
        if not key or not equals:
            parser.error(f"--env {name} {pair}: expected KEY=VALUE")
        envs.setdefault(name, {})[key] = value

    if not job or log_dir is None:
        parser.error("--job and --log-dir are required (or a --spec file that gives them)")
    if not components:
        parser.error("no component given; add at least one group '--component NAME -- argv...'")
    for component in components:
        if not component.argv:
            parser.error(f"component '{component.name}' has an empty argv")
    names = [c.name for c in components]
    if len(set(names)) != len(names):
        parser.error(f"component names must be unique, got {names}")
    unknown = sorted(set(envs) - set(names))
    if unknown:
        parser.error(f"--env names component(s) {unknown}, but the components are {names}")
    components = [ComponentSpec(c.name, c.argv, {**c.env, **envs.get(c.name, {})}) for c in components]
    record = RecordSpec(opts.record, opts.gpus, opts.benchmark, tuple(opts.task)) if opts.record else None
    return SupervisorSpec(job, log_dir, tuple(components), 10.0 if grace_s is None else grace_s, record)


def _say(message: str) -> None:
    print(f"supervise: {message}", file=sys.stderr, flush=True)


def _exit_code(returncode: int) -> int:
    return 128 - returncode if returncode < 0 else returncode


def _describe_code(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def _stop(procs: dict[str, subprocess.Popen[bytes]], grace_s: float) -> None:
    """SIGTERM every process group, wait up to grace_s, then SIGKILL what is left."""
    for proc in procs.values():
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(p.poll() is None for p in procs.values()):
        time.sleep(POLL_S)
    for name, proc in procs.items():
        if proc.poll() is None:
            _say(f"component '{name}' ignored SIGTERM for {grace_s:g}s; sending SIGKILL")
        _signal_group(proc, signal.SIGKILL)  # also reaps leftovers of groups whose leader has exited
    for proc in procs.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


class _InterruptedError(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum: int, _frame: object) -> None:
    raise _InterruptedError(signum)


def supervise(spec: SupervisorSpec) -> int:
    """Run the components; return 0 if the main one succeeded and no other failed first, else non-zero; write the
    job's record when `spec.record` asks for one."""
    started_at, started = time.time(), time.monotonic()
    code = 1
    try:
        code = _supervise(spec)
        return code
    finally:
        if spec.record is not None:
            state = "COMPLETED" if code == 0 else ("CANCELLED" if code > 128 else "FAILED")
            record = JobRecord(
                job=spec.job,
                state=state,
                wall_s=round(time.monotonic() - started, 3),
                gpus=spec.record.gpus,
                benchmark=spec.record.benchmark,
                started_at=started_at,
                ended_at=time.time(),
                tasks=list(spec.record.tasks),
            )
            with contextlib.suppress(OSError):
                write_job_record(spec.record.path, record)


def _with_free_ports(components: tuple[ComponentSpec, ...]) -> tuple[ComponentSpec, ...]:
    """The components with every port placeholder replaced by a port free now (the same port for the same name)."""
    ports = choose_ports(
        [token for c in components for token in c.argv] + [value for c in components for value in c.env.values()]
    )
    if not ports:
        return components
    _say("ports: " + ", ".join(f"{name}={port}" for name, port in ports.items()))
    return tuple(
        ComponentSpec(
            c.name,
            tuple(with_ports(token, ports) for token in c.argv),
            {key: with_ports(value, ports) for key, value in c.env.items()},
        )
        for c in components
    )


def _supervise(spec: SupervisorSpec) -> int:
    spec.log_dir.mkdir(parents=True, exist_ok=True)
    spec = dataclasses.replace(spec, components=_with_free_ports(spec.components))
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = {c.name: component_log(spec.log_dir, c.name) for c in spec.components}
    main_name = spec.components[-1].name
    old = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    try:
        for component in spec.components:
            with open(logs[component.name], "ab") as log:
                try:
                    procs[component.name] = subprocess.Popen(
                        list(component.argv),
                        env={**os.environ, **component.env} if component.env else None,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                except OSError as err:
                    _stop(procs, spec.grace_s)
                    _say(f"job '{spec.job}': component '{component.name}' could not start: {err}")
                    _say(f"command: {shlex.join(component.argv)}")
                    return 127
            _say(f"started '{component.name}' (pid {procs[component.name].pid}) -> {logs[component.name]}")
            settings = [f"{key}={value}" for key, value in component.env.items()]
            _say(f"  {shlex.join([*settings, *component.argv])}")
        while True:
            for name, proc in procs.items():
                code = proc.poll()
                if code is None:
                    continue
                others = {n: p for n, p in procs.items() if n != name}
                if name == main_name and code == 0:
                    _stop(others, spec.grace_s)
                    _say(f"job '{spec.job}': main component '{name}' succeeded; stopped {sorted(others) or 'nothing'}")
                    return 0
                _stop(others, spec.grace_s)
                why = (
                    _describe_code(code) if name == main_name else f"ended before the main one, {_describe_code(code)}"
                )
                _report_failure(spec.job, name, why, logs[name])
                return _exit_code(code) or 1
            time.sleep(POLL_S)
    except _InterruptedError as interrupted:
        _say(f"job '{spec.job}': got {signal.Signals(interrupted.signum).name}; stopping {sorted(procs)}")
        _stop(procs, spec.grace_s)
        return 128 + interrupted.signum
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def _report_failure(job: str, component: str, why: str, log: Path) -> None:
    lines = [f"job '{job}' FAILED: component '{component}' {why}", explain_log(log), "--- end of log ---"]
    print(
        "\n".join("supervise: " + line if i < 2 else line for i, line in enumerate(lines)),
        file=sys.stderr,
    )
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    return supervise(parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
