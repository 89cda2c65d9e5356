"""Isolation layers of the sandbox: bubblewrap namespaces, an unprivileged uid per slot, rlimits and cgroups.

Each layer is detected at start-up; `IsolationReport` says which are in force and which are missing, and the server
refuses to start with a missing layer unless it was told to accept weak isolation.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nemo_pipeline.sandbox._bootstrap import BOOTSTRAP_SOURCE

__all__ = ["Cgroup", "IsolationOptions", "IsolationReport", "default_python", "detect_isolation", "kill_uid"]

LOG = logging.getLogger(__name__)

_CGROUP_ROOT = Path("/sys/fs/cgroup")
# Writes the shell's own pid (then inherited by setpriv, bwrap and everything below) into each cgroup.procs file
# given before "--", then execs the rest. Run as root, so the process is charged before user code can fork.
_JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 97; shift; done; shift; exec "$@"'
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class IsolationOptions:
    """Limits and tools for each sandboxed execution (sizes in MiB)."""

    python: str
    bwrap: str = "bwrap"
    uid_base: int = 0  # 0: chosen from the server's pid, so several servers on one host never share uids
    memory_mb: int = 2048
    max_processes: int = 64
    max_open_files: int = 256
    max_file_size_mb: int = 256
    tmp_size_mb: int = 256


@dataclass
class IsolationReport:
    """What is in force; `missing` names each layer that is not, with the reason."""

    bubblewrap: bool = False
    namespaces: list[str] = field(default_factory=list)
    uid_drop: bool = False
    uids: str = ""
    uid_range: list[int] = field(default_factory=list)  # [first, last] sandbox uid, when uids are dropped
    rlimits: dict[str, int] = field(default_factory=dict)
    cgroup: str = "none"  # "v1", "v2" or "none"
    cgroup_limits: dict[str, int] = field(default_factory=dict)
    python: str = ""
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def weak(self) -> bool:
        return bool(self.missing)

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["weak"] = self.weak
        return data


def default_python() -> str:
    """An interpreter an unprivileged uid can run: Debian's /usr/bin/python3 when present.

    The interpreter of the server may live under root's home (pyenv), which other uids cannot read.
    """
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.access(candidate, os.X_OK):
            return candidate
    return os.path.realpath(shutil.which("python3") or "python3")


class Cgroup:
    """One cgroup per sandbox uid, in the pids and memory controllers (v1) or the unified tree (v2)."""

    def __init__(self, version: str, dirs: list[Path]) -> None:
        self.version = version
        self.dirs = dirs

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def pids(self) -> list[int]:
        found: set[int] = set()
        for d in self.dirs:
            with contextlib.suppress(OSError):
                found.update(int(line) for line in (d / "cgroup.procs").read_text().split())
        return sorted(found)

    def kill_all(self, deadline_s: float = 5.0) -> bool:
        """SIGKILL every process in the group until it is empty; False if some survive the deadline."""
        deadline = time.monotonic() + deadline_s
        while True:
            pids = self.pids()
            if not pids:
                return True
            if time.monotonic() > deadline:
                LOG.error("processes %s in %s survive SIGKILL", pids, self.dirs)
                return False
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)

    def remove(self) -> None:
        self.kill_all(2.0)
        for d in self.dirs:
            with contextlib.suppress(OSError):
                d.rmdir()


class CgroupFactory:
    """Creates per-uid cgroups under a parent named after this server's pid."""

    def __init__(self, version: str, parents: list[Path], limits: dict[str, str]) -> None:
        self.version = version
        self.parents = parents
        self.limits = limits  # file name -> value, written in each child dir that has the file

    def create(self, name: str) -> Cgroup:
        dirs = []
        for parent in self.parents:
            d = parent / name
            d.mkdir(exist_ok=True)
            for file_name, value in self.limits.items():
                path = d / file_name
                if path.exists():
                    path.write_text(value)
            dirs.append(d)
        return Cgroup(self.version, dirs)

    def remove_parents(self) -> None:
        for parent in self.parents:
            with contextlib.suppress(OSError):
                parent.rmdir()


def _setup_cgroups(options: IsolationOptions, report: IsolationReport) -> CgroupFactory | None:
    if os.geteuid() != 0:
        report.missing["cgroup"] = "not running as root: cannot create cgroups"
        return None
    name = f"nemo-sandbox-{os.getpid()}"
    memory = str(options.memory_mb * 1024 * 1024)
    pids = str(options.max_processes)
    try:
        if (_CGROUP_ROOT / "cgroup.controllers").exists():
            available = (_CGROUP_ROOT / "cgroup.controllers").read_text().split()
            if not {"pids", "memory"} <= set(available):
                raise OSError(errno.ENOTSUP, f"cgroup v2 controllers {available} lack pids or memory")
            (_CGROUP_ROOT / "cgroup.subtree_control").write_text("+pids +memory")
            parent = _CGROUP_ROOT / name
            parent.mkdir(exist_ok=True)
            (parent / "cgroup.subtree_control").write_text("+pids +memory")
            factory = CgroupFactory("v2", [parent], {"pids.max": pids, "memory.max": memory, "memory.swap.max": "0"})
        elif (_CGROUP_ROOT / "pids" / "pids.max").exists() or (_CGROUP_ROOT / "pids" / "cgroup.procs").exists():
            parents = [_CGROUP_ROOT / "pids" / name, _CGROUP_ROOT / "memory" / name]
            for parent in parents:
                parent.mkdir(exist_ok=True)
            factory = CgroupFactory(
                "v1",
                parents,
                {"pids.max": pids, "memory.limit_in_bytes": memory, "memory.memsw.limit_in_bytes": memory},
            )
        else:
            report.missing["cgroup"] = f"no pids/memory cgroup controller under {_CGROUP_ROOT}"
            return None
        probe = factory.create("probe")
        probe.remove()
    except OSError as exc:
        report.missing["cgroup"] = f"cannot create cgroups under {_CGROUP_ROOT}: {exc}"
        return None
    report.cgroup = factory.version
    report.cgroup_limits = {"pids_max": options.max_processes, "memory_bytes": options.memory_mb * 1024 * 1024}
    return factory


@dataclass(frozen=True)
class Launcher:
    """Builds the argv that starts one warm sandbox under a given uid."""

    options: IsolationOptions
    use_bwrap: bool
    drop_uid: bool
    setpriv: str | None

    def command(self, uid: int, cgroup: Cgroup | None, bootstrap_args: list[str]) -> list[str]:
        argv: list[str] = []
        if cgroup is not None:
            argv += ["/bin/sh", "-c", _JOIN_CGROUPS, "sh", *cgroup.procs_files, "--"]
        if self.drop_uid and self.setpriv:
            argv += [self.setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs", "--"]
        if self.use_bwrap:
            argv += [
                self.options.bwrap,
                "--unshare-all",
                "--die-with-parent",
                "--new-session",
                "--ro-bind", "/", "/",
                "--tmpfs", "/root",
                "--size", str(self.options.tmp_size_mb * 1024 * 1024),
                "--tmpfs", "/tmp",
                "--proc", "/proc",
                "--dev", "/dev",
                "--chdir", "/tmp",
                "--",
            ]  # fmt: skip
        argv += [self.options.python, "-I", "-c", BOOTSTRAP_SOURCE, *bootstrap_args]
        return argv

    def env(self) -> dict[str, str]:
        return {"PATH": SANDBOX_PATH, "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}


# In a Docker container, the option that gives a missing layer back (docs/CLUSTERS.md, "The sandbox in a container"):
# (layer, what its failure says, the option).
_CONTAINER_OPTIONS = (
    ("bubblewrap", "mount proc", "--security-opt systempaths=unconfined (masked /proc paths forbid a new /proc)"),
    ("bubblewrap", "", "--security-opt seccomp=unconfined (the default seccomp profile refuses new namespaces)"),
    ("cgroup", "", "-v /sys/fs/cgroup:/sys/fs/cgroup:rw (Docker mounts the cgroup tree read-only)"),
)


def _in_container() -> bool:
    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()


def _probe_bwrap(options: IsolationOptions, uid: int, setpriv: str | None) -> str | None:
    """Run `true` under bwrap as `uid`; None when it works, else why not."""
    bwrap = shutil.which(options.bwrap)
    if bwrap is None:
        return f"bubblewrap not found ({options.bwrap!r}); install it: apt-get install -y bubblewrap"
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc", "--", "/bin/true"]
    if setpriv:
        argv = [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--", *argv]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=20, cwd="/", env={"PATH": SANDBOX_PATH})
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap failed to start: {exc}"
    if proc.returncode != 0:
        return f"bubblewrap failed (exit {proc.returncode}): {proc.stderr.decode(errors='replace').strip()}"
    return None


def detect_isolation(options: IsolationOptions) -> tuple[IsolationReport, Launcher, CgroupFactory | None]:
    """Detect every layer; the report lists what is missing and why."""
    report = IsolationReport(python=options.python)
    setpriv = shutil.which("setpriv")
    drop_uid = os.geteuid() == 0 and setpriv is not None
    if os.geteuid() != 0:
        report.missing["uid_drop"] = "not running as root: sandboxed code runs as the server's own uid"
    elif setpriv is None:
        report.missing["uid_drop"] = "setpriv (util-linux) not found: cannot switch to an unprivileged uid"
    report.uid_drop = drop_uid
    problem = _probe_bwrap(options, options.uid_base, setpriv if drop_uid else None)
    if problem is None:
        report.bubblewrap = True
        report.namespaces = ["user", "pid", "net", "ipc", "uts", "cgroup", "mount (read-only /, private /tmp)"]
    else:
        report.missing["bubblewrap"] = problem
    report.rlimits = {
        "address_space_bytes": options.memory_mb * 1024 * 1024,
        "file_size_bytes": options.max_file_size_mb * 1024 * 1024,
        "processes": options.max_processes,
        "open_files": options.max_open_files,
        "core_bytes": 0,
        "cpu_seconds": -1,  # set per request from its timeout
    }
    factory = _setup_cgroups(options, report)
    if _in_container():
        for layer, why in list(report.missing.items()):
            option = next((o for name, says, o in _CONTAINER_OPTIONS if name == layer and says in why), None)
            if option:
                report.missing[layer] = f"{why}; in a container, run it with {option}"
    launcher = Launcher(options, use_bwrap=report.bubblewrap, drop_uid=drop_uid, setpriv=setpriv)
    return report, launcher, factory


def kill_uid(uid: int) -> int:
    """SIGKILL every process whose real uid is `uid` (a /proc scan); returns how many were signalled."""
    killed = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/status", "rb") as handle:
                for line in handle:
                    if line.startswith(b"Uid:"):
                        if int(line.split()[1]) == uid:
                            os.kill(int(entry.name), signal.SIGKILL)
                            killed += 1
                        break
        except (OSError, ValueError):
            continue
    return killed
